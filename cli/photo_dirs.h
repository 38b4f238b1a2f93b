/* cli/photo_dirs: the many-photo commands' (sample, batch translate) folders: listing photos and
 * domain folders, creating output folders. */
#ifndef SG_CLI_PHOTO_DIRS_H
#define SG_CLI_PHOTO_DIRS_H
#include "cli.h"

/* A list of malloc'd paths. */
typedef struct {
    char **items;
    int n, cap;
} cli_list;
sg_status cli_list_add(cli_list *l, const char *s, sg_error *err);
void cli_list_free(cli_list *l);

/* The photos directly in dir (.png, .jpg, .jpeg, any case; hidden files skipped), as "dir/name",
 * sorted by name (bytewise). Appended to l. With dirs non-NULL, the subfolders (not hidden) go
 * there, by name alone. */
sg_status cli_list_dir(const char *dir, cli_list *photos, cli_list *dirs, sg_error *err);
/* mkdir -p */
sg_status cli_mkdirs(const char *path, sg_error *err);
/* "dir/name" into a malloc'd string, or NULL */
char *cli_join(const char *dir, const char *name);

#endif
