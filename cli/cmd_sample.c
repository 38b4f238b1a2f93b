/* stargan sample: the reference implementation's sample mode over folders of photos.
 *   reference.png     (or .jpg: --format) row 0 the references, column 0 the sources (as the network sees them),
 *                     cell (i, j) source i in reference j's style: the bytes of
 *                     `stargan translate --src S_i --ref R_j --domain <R_j's folder>`
 *   latent.png        a row per source: the source, then for each domain in order, --seeds
 *                     cells (seeds --seed, --seed + 1, ...): `translate --seed K --domain D`
 *   video_ref.mp4     styles interpolated between successive references; at the left the
 *                     references scroll by (the current one beside the outputs), then a column
 *                     per source: the source above its translation
 *   video_latent.mp4  the same between the latent styles of latent.png, domain after domain
 * Folders as the reference's data layout: one folder per domain, named by domain (or index). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../image/image.h"
#include "cli.h"
#include "models.h"
#include "photo_dirs.h"
#include "progress.h"

enum { OUT_REFERENCE, OUT_LATENT, OUT_VIDEO_REF, OUT_VIDEO_LATENT, OUT_COUNT };
static const char *const out_names[OUT_COUNT] = {"reference", "latent", "video_ref",
                                                 "video_latent"};

typedef struct {
    char *path;
    int y; /* domain folder it came from; -1: directly in --src-dir */
    /* img_size², as the network sees it (cropped, stretched or aligned). The networks are run
     * on it (SG_FIT_STRETCH: an S² → S² resize is the identity, as the engine relies on after
     * aligning), so the photo itself is dropped once decoded: 20 sources of 12 Mpixel would
     * otherwise hold 700 MB, and --fit align would align again for every frame. */
    sg_image view;
    /* --paste (sources): the whole photo kept (every cell is pasted into a copy of it) and its
     * region made ready (v, encoded into enc); view is then left empty */
    sg_image whole;
    sg_region_view v; /* its square made ready (net freed once encoded) */
    /* the view encoded once (sg_engine_encode), decoded per style: made at its first cell, kept
     * for a grid's row or for all of a video */
    sg_encoded *enc;
} photo;

typedef struct {
    const char *model, *fan, *mean, *src_dir, *ref_dir, *out_dir;
    sg_fit fit;
    int seeds, frames, fps, want[OUT_COUNT];
    sg_video_format vfmt;
    sg_image_format gfmt; /* of the grids */
    int quality;
    uint64_t seed0;
    float psi;
    int64_t max_pixels;
    sg_region_ask region; /* --crop, --face: every source photo's region */
    int paste;            /* --paste: every cell the whole photo, its region put back */
    const char *detector;
} options;

typedef struct {
    const options *o;
    sg_engine e;
    sg_run run;
    sg_face_detector det; /* --face */
    int S, dim, engine_open, run_open;
    int cw, ch; /* a cell: S², or with --paste the largest photo's size (at least S, even) */
    photo *src, *ref;
    int nsrc, nref, nlat;
    float *s_ref; /* [nref, style_dim] */
    float *s_lat; /* [num_domains · seeds, style_dim] */
    float *s_mix; /* [style_dim] */
    cli_progress prog;
} sampler;

/* ---- options -------------------------------------------------------------------------------- */

static int parse_int(const char *s, int lo, int hi, int *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || !*s || *end || x < lo || x > hi) return -1;
    *v = (int)x;
    return 0;
}

static int bad(const char *msg) {
    fprintf(stderr, "stargan sample: %s\n", msg);
    return -1;
}

/* --crop X,Y,W,H or --face auto|N: the region of every source photo (as /v1/grid's fields) */
static int check_region(const cli_opt *t, options *o) {
    const char *crop = cli_get(t, "--crop"), *face = cli_get(t, "--face");
    if (crop && face) return bad("give --crop or --face, not both");
    if (crop && sg_rect_parse(crop, &o->region.crop))
        return bad("--crop must be four integers x,y,w,h (w, h >= 1)");
    if (crop) o->region.mode = SG_REGION_CROP;
    if (face && (sg_face_select_parse(face, &o->region.face) || o->region.face == SG_FACE_ALL))
        return bad("--face must be auto or a face index 0..99");
    o->paste = cli_get(t, "--paste") != NULL;
    if (o->paste && !crop && !face && o->fit == SG_FIT_ALIGN)
        return bad("--paste with --fit align needs --face or --crop");
    if (!face) return 0;
    o->region.mode = SG_REGION_FACE;
    if (!(o->detector = sg_detector_path(cli_get(t, "--detector"))))
        return bad("--face needs the face detector: give --detector D, set STARGAN_DETECTOR, or "
                   "run scripts/get-detector.sh");
    return 0;
}

static int check_options(const cli_opt *t, options *o) {
    o->model = cli_get(t, "--model"), o->fan = cli_get(t, "--fan"), o->mean = cli_get(t, "--mean");
    o->src_dir = cli_get(t, "--src-dir"), o->ref_dir = cli_get(t, "--ref-dir");
    o->out_dir = cli_get(t, "--out-dir");
    if (!o->model || !o->src_dir || !o->out_dir)
        return bad("--model, --src-dir and --out-dir are required");
    if (parse_int(cli_get(t, "--seeds"), 1, 100, &o->seeds))
        return bad("--seeds must be in 1..100");
    if (parse_int(cli_get(t, "--frames"), 1, 1000, &o->frames))
        return bad("--frames must be in 1..1000");
    if (parse_int(cli_get(t, "--fps"), 1, 240, &o->fps)) return bad("--fps must be in 1..240");
    const char *s = cli_get(t, "--seed"), *p = cli_get(t, "--psi"),
               *mp = cli_get(t, "--max-pixels");
    char *end;
    errno = 0;
    o->seed0 = strtoull(s, &end, 10);
    if (errno || !*s || *end || s[0] == '-') return bad("--seed must be a non-negative integer");
    double psi = strtod(p, &end);
    if (!*p || *end || !(psi >= 0.0 && psi <= 1.0)) return bad("--psi must be a number in [0, 1]");
    o->psi = (float)psi;
    long long mv = strtoll(mp, &end, 10);
    if (!*mp || *end || mv < 1) return bad("--max-pixels must be a positive number");
    o->max_pixels = mv;
    const char *fit = cli_get(t, "--fit");
    if (sg_fit_parse(fit, &o->fit)) return bad("--fit must be crop, stretch or align");
    if (o->fit == SG_FIT_ALIGN && !o->mean)
        return bad("--fit align needs --mean celeba_lm_mean.npz");
    const char *gf = cli_get(t, "--format");
    if (sg_image_format_parse(gf, &o->gfmt)) return bad("--format must be png or jpg");
    if (parse_int(cli_get(t, "--quality"), 1, 100, &o->quality))
        return bad("--quality must be in 1..100");
    int vf = sg_video_format_parse(cli_get(t, "--video"));
    if (vf < 0) return bad("--video must be mp4 or webp");
    o->vfmt = (sg_video_format)vf;
    /* --outputs: a comma-separated subset */
    char list[256];
    snprintf(list, sizeof list, "%s", cli_get(t, "--outputs"));
    memset(o->want, 0, sizeof o->want);
    int any = 0;
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < OUT_COUNT && strcmp(tok, out_names[k])) k++;
        if (k == OUT_COUNT)
            return bad("--outputs takes reference, latent, video_ref, video_latent (commas)");
        o->want[k] = any = 1;
    }
    if (!any) return bad("--outputs is empty");
    if ((o->want[OUT_REFERENCE] || o->want[OUT_VIDEO_REF]) && !o->ref_dir)
        return bad("reference and video_ref need --ref-dir (or --outputs latent,video_latent)");
    return check_region(t, o);
}

/* ---- inputs --------------------------------------------------------------------------------- */

static void photos_free(photo *p, int n) {
    for (int i = 0; p && i < n; i++) {
        free(p[i].path);
        sg_image_free(&p[i].view), sg_image_free(&p[i].whole);
        sg_encoded_free(p[i].enc);
    }
    free(p);
}

static sg_status add_photos(const cli_list *paths, int y, photo **ps, int *n, sg_error *err) {
    if (!paths->n) return SG_OK;
    photo *grown = realloc(*ps, (size_t)(*n + paths->n) * sizeof *grown);
    if (!grown) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    *ps = grown;
    for (int i = 0; i < paths->n; i++) {
        photo *p = &grown[(*n)++];
        memset(p, 0, sizeof *p);
        p->y = y;
        if (!(p->path = strdup(paths->items[i])))
            return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    }
    return SG_OK;
}

/* The photos of dir: (sources only) those directly in it, then each domain folder's, in the
 * model's domain order, by name within. A folder that names no domain is an error. */
static sg_status collect(const sg_config *cfg, const char *dir, int is_ref, photo **ps, int *n,
                         sg_error *err) {
    cli_list top = {0}, subs = {0};
    sg_status st = cli_list_dir(dir, &top, &subs, err);
    if (!st && is_ref && top.n)
        st = sg_error_set(err, SG_ERR_ARG,
                          "%s: reference photos go in a folder named by their domain (%s is not)",
                          dir, top.items[0]);
    if (!st) st = add_photos(&top, -1, ps, n, err);
    int *dom = subs.n ? calloc((size_t)subs.n, sizeof *dom) : NULL;
    if (!st && subs.n && !dom) st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < subs.n; i++) {
        char *where = cli_join(dir, subs.items[i]);
        st = where ? cli_domain(cfg, subs.items[i], where, &dom[i], err)
                   : sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        free(where);
    }
    for (int y = 0; !st && y < cfg->num_domains; y++)
        for (int i = 0; !st && i < subs.n; i++) {
            if (dom[i] != y) continue;
            cli_list files = {0};
            char *sub = cli_join(dir, subs.items[i]);
            st = sub ? cli_list_dir(sub, &files, NULL, err)
                     : sg_error_set(err, SG_ERR_NOMEM, "out of memory");
            if (!st) st = add_photos(&files, y, ps, n, err);
            cli_list_free(&files);
            free(sub);
        }
    if (!st && *n == 0)
        st = sg_error_set(err, SG_ERR_ARG, "%s: no photos (.png, .jpg, .jpeg)%s", dir,
                          is_ref ? " in its domain folders" : "");
    free(dom);
    cli_list_free(&top), cli_list_free(&subs);
    return st;
}

/* A source's region (--crop, --face) cut out of img, in place; *fit becomes the region's. */
static sg_status cut_region(sampler *s, sg_image *img, sg_fit *fit, sg_error *err) {
    sg_rect sq;
    return sg_regions_cut(&s->e, s->o->detector ? &s->det : NULL, &s->run, img, &s->o->region, fit,
                          &sq, NULL, err);
}

/* --paste: the source photo kept whole, its square planned, made ready and encoded once (as
 * /v1/grid's paste=true); the encoding is kept for every output */
static sg_status keep_whole(sampler *s, photo *p, sg_image *img, sg_error *err) {
    sg_rect sq;
    int n;
    sg_status st = sg_regions_plan(&s->e, s->o->detector ? &s->det : NULL, &s->run, img,
                                   &s->o->region, s->o->fit, &sq, 1, &n, NULL, err);
    if (!st)
        st = sg_region_view_make(&s->e, &s->run, img, sq,
                                 sg_region_fit(&s->e, &s->o->region, s->o->fit), NULL, &p->v, NULL,
                                 err);
    if (!st) st = sg_engine_encode(&s->e, &s->run, &p->v.net, SG_FIT_STRETCH, &p->enc, NULL, err);
    sg_image_free(&p->v.net); /* the cells need only the map back */
    p->whole = *img;
    *img = (sg_image){0};
    return st;
}

/* Decodes every photo and makes its view: an undecodable one stops the run before any work.
 * Sources (is_src) are cut to their region first when --crop or --face asks (kept whole with
 * --paste). */
static sg_status load(sampler *s, photo *ps, int n, int is_src, sg_error *err) {
    for (int i = 0; i < n; i++) {
        sg_image img = {0};
        sg_fit fit = s->o->fit;
        sg_status st = sg_image_load(ps[i].path, s->o->max_pixels, 1, &img, err);
        if (!st && is_src && s->o->paste) st = keep_whole(s, &ps[i], &img, err);
        else if (!st && is_src && s->o->region.mode) st = cut_region(s, &img, &fit, err);
        if (!st && !ps[i].whole.pixels)
            st = fit == SG_FIT_ALIGN ? sg_engine_align(&s->e, &s->run, &img, &ps[i].view, err)
                                     : sg_image_fit(&img, fit, s->S, &ps[i].view, err);
        sg_image_free(&img);
        if (st) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return sg_error_set(err, st, "%s: %s", ps[i].path, msg);
        }
    }
    return SG_OK;
}

/* ---- work ----------------------------------------------------------------------------------- */

/* Segments of a video through `codes` styles */
static int segments(int codes) { return codes > 1 ? codes - 1 : 1; }
static float ease(int k, int frames);
/* 1 when segments of F frames never reach their target (F < 3): one more frame, the last style */
static int rest_frame(int codes, int F) { return codes > 1 && ease(F - 1, F) < 1.0f; }

/* The reference's easing (a sigmoid over [-5, 5]), scaled to run exactly from 0 to 1 over the
 * first two thirds of a segment; the last third rests on the segment's target style. */
static float ease(int k, int frames) {
    double u = 1.5 * (double)k / (double)frames;
    if (u >= 1) return 1.0f;
    double lo = 1 / (1 + exp(5.0)), hi = 1 / (1 + exp(-5.0));
    return (float)((1 / (1 + exp(-(10 * u - 5))) - lo) / (hi - lo));
}

static void lerp(const float *a, const float *b, float t, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = a[i] + t * (b[i] - a[i]); /* as torch.lerp */
}

/* cells[b] = source src[b] in style b of styles [k, dim], b < k ≤ SG_ENGINE_MAX_STYLES: its view
 * translated, or with --paste its whole photo with the square translated and put back
 * (`stargan translate --paste`'s pixels). Each source is encoded once (the bytes of
 * sg_engine_translate on the view); the k decoders' low-resolution head runs as one batch. */
static sg_status translate_batch(sampler *s, const int *src, const float *styles, int k,
                                 sg_image *cells, sg_error *err) {
    const sg_encoded *enc[SG_ENGINE_MAX_STYLES];
    sg_image sq[SG_ENGINE_MAX_STYLES] = {{0}};
    int who = src[0];
    sg_status st = SG_OK;
    for (int b = 0; !st && b < k; b++) {
        photo *p = &s->src[who = src[b]];
        if (!p->enc)
            st = sg_engine_encode(&s->e, &s->run, &p->view, SG_FIT_STRETCH, &p->enc, NULL, err);
        enc[b] = p->enc;
    }
    if (!st)
        who = src[0], st = sg_engine_decode_many(&s->e, &s->run, enc, styles, k, sq, NULL, err);
    for (int b = 0; b < k; b++) {
        photo *p = &s->src[src[b]];
        if (!st && p->whole.pixels) /* --paste */
            st = sg_region_paste_into(&s->e, &p->whole, &p->v, &sq[b], &cells[b], NULL, err);
        else if (!st) cells[b] = sq[b], sq[b] = (sg_image){0};
        sg_image_free(&sq[b]);
    }
    if (st) {
        for (int b = 0; b < k; b++) sg_image_free(&cells[b]);
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return sg_error_set(err, st, "%s: %s", s->src[who].path, msg);
    }
    return SG_OK;
}

static void place(const sampler *s, sg_image *dst, const sg_image *img, int x, int y);

/* Source i's grid row in styles [n, dim]: cell c placed at (x0 + c·cw, y) */
static sg_status grid_row(sampler *s, sg_image *grid, int i, const float *styles, int n, int x0,
                          int y, sg_error *err) {
    int idx[SG_ENGINE_MAX_STYLES];
    sg_image cells[SG_ENGINE_MAX_STYLES] = {{0}};
    for (int b = 0; b < SG_ENGINE_MAX_STYLES; b++) idx[b] = i;
    sg_status st = SG_OK;
    for (int c = 0; !st && c < n; c += SG_ENGINE_MAX_STYLES) {
        const int k = n - c < SG_ENGINE_MAX_STYLES ? n - c : SG_ENGINE_MAX_STYLES;
        st = translate_batch(s, idx, styles + (size_t)c * s->dim, k, cells, err);
        for (int b = 0; !st && b < k; b++) place(s, grid, &cells[b], x0 + (c + b) * s->cw, y);
        for (int b = 0; !st && b < k; b++) sg_image_free(&cells[b]);
        if (!st) cli_progress_step(&s->prog, k, NULL);
    }
    if (!s->src[i].whole.pixels) sg_encoded_free(s->src[i].enc), s->src[i].enc = NULL;
    return st;
}

static char *out_path(const sampler *s, const char *name, const char *ext) {
    char file[64];
    snprintf(file, sizeof file, "%s.%s", name, ext);
    return cli_join(s->o->out_dir, file);
}

static sg_status save(sampler *s, const sg_image *img, const char *name, sg_error *err) {
    char *p = out_path(s, name, s->o->gfmt == SG_FORMAT_JPEG ? "jpg" : "png");
    sg_status st = p ? sg_image_save(img, p, s->o->quality, err)
                     : sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    free(p);
    return st;
}

static const uint8_t white[3] = {255, 255, 255};
#define SG_SAMPLE_MAX_PIXELS 500000000LL /* one grid or frame: 1.5 GB of RGB */

/* img centred in the cell whose top left is (x, y) */
static void place(const sampler *s, sg_image *dst, const sg_image *img, int x, int y) {
    sg_image_blit(dst, img, x + (s->cw - img->w) / 2, y + (s->ch - img->h) / 2);
}

/* What a source shows in the header column: the photo as the network sees it, or whole. */
static const sg_image *shown(const photo *p) { return p->whole.pixels ? &p->whole : &p->view; }

static sg_status reference_grid(sampler *s, sg_error *err) {
    const int W = s->cw, H = s->ch;
    sg_image grid;
    sg_status st = sg_image_create(&grid, (s->nref + 1) * W, (s->nsrc + 1) * H, white, err);
    if (st) return st;
    for (int j = 0; j < s->nref; j++) place(s, &grid, &s->ref[j].view, (j + 1) * W, 0);
    for (int i = 0; i < s->nsrc; i++) place(s, &grid, shown(&s->src[i]), 0, (i + 1) * H);
    for (int i = 0; !st && i < s->nsrc; i++) /* a row at a time: one encoding held */
        st = grid_row(s, &grid, i, s->s_ref, s->nref, W, (i + 1) * H, err);
    if (!st) st = save(s, &grid, "reference", err);
    sg_image_free(&grid);
    return st;
}

static sg_status latent_grid(sampler *s, sg_error *err) {
    const int W = s->cw, H = s->ch;
    sg_image grid;
    sg_status st = sg_image_create(&grid, (s->nlat + 1) * W, s->nsrc * H, white, err);
    if (st) return st;
    for (int i = 0; i < s->nsrc; i++) place(s, &grid, shown(&s->src[i]), 0, i * H);
    for (int i = 0; !st && i < s->nsrc; i++) /* a row at a time: one encoding held */
        st = grid_row(s, &grid, i, s->s_lat, s->nlat, W, i * H, err);
    if (!st) st = save(s, &grid, "latent", err);
    sg_image_free(&grid);
    return st;
}

/* Frame layout of video_ref: [reference column | margin | a column per source]; each column is
 * two cells tall. In video_latent there is no reference column. */
static int ref_column(const sampler *s) { return s->S + s->S / 8; }

/* The reference column: a window two cells tall onto the references stacked top to bottom,
 * its lower cell at position p (reference index + progress), so they scroll up one by one. */
static void draw_refs(const sampler *s, sg_image *frame, float p) {
    const int S = s->S;
    int top = (int)lrintf((p - 1.0f) * (float)S);
    for (int r = 0; r < 2 * S; r++) {
        int q = top + r;
        uint8_t *dst = frame->pixels + (size_t)r * frame->w * 3;
        if (q < 0 || q >= s->nref * S) {
            memset(dst, 0, (size_t)S * 3);
        } else {
            const sg_image *v = &s->ref[q / S].view;
            memcpy(dst, v->pixels + (size_t)(q % S) * S * 3, (size_t)S * 3);
        }
    }
}

/* One frame: every source in style, the reference column at position p (video_ref). */
static sg_status frame_out(sampler *s, int is_ref, const float *style, float p, sg_image *frame,
                           sg_video *v, sg_error *err) {
    const int x0 = is_ref ? ref_column(s) : 0;
    if (is_ref) draw_refs(s, frame, p);
    int idx[SG_ENGINE_MAX_STYLES];
    sg_image cells[SG_ENGINE_MAX_STYLES] = {{0}};
    float *rep = malloc((size_t)SG_ENGINE_MAX_STYLES * s->dim * sizeof *rep); /* style, repeated */
    if (!rep) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    for (int b = 0; b < SG_ENGINE_MAX_STYLES; b++)
        memcpy(rep + (size_t)b * s->dim, style, (size_t)s->dim * sizeof *rep);
    sg_status st = SG_OK;
    for (int i = 0; !st && i < s->nsrc; i += SG_ENGINE_MAX_STYLES) { /* the sources as a batch */
        const int k = s->nsrc - i < SG_ENGINE_MAX_STYLES ? s->nsrc - i : SG_ENGINE_MAX_STYLES;
        for (int b = 0; b < k; b++) idx[b] = i + b;
        st = translate_batch(s, idx, rep, k, cells, err);
        for (int b = 0; !st && b < k; b++) place(s, frame, &cells[b], x0 + (i + b) * s->cw, s->ch);
        for (int b = 0; !st && b < k; b++) sg_image_free(&cells[b]);
        if (!st) cli_progress_step(&s->prog, k, NULL);
    }
    free(rep);
    return st ? st : sg_video_add_frame(v, frame, err);
}

static sg_status video(sampler *s, int which, sg_error *err) {
    const int F = s->o->frames, is_ref = which == OUT_VIDEO_REF;
    const int codes = is_ref ? s->nref : s->nlat, x0 = is_ref ? ref_column(s) : 0;
    const float *styles = is_ref ? s->s_ref : s->s_lat;
    char *path = out_path(s, out_names[which], sg_video_extension(s->o->vfmt));
    if (!path) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    sg_image frame = {0};
    sg_video *v = NULL;
    sg_status st = sg_image_create(&frame, x0 + s->nsrc * s->cw, 2 * s->ch, NULL, err);
    if (!st) st = sg_video_open(&v, path, s->o->vfmt, frame.w, frame.h, s->o->fps, err);
    for (int i = 0; !st && i < s->nsrc; i++) place(s, &frame, shown(&s->src[i]), x0 + i * s->cw, 0);
    for (int g = 0; !st && g < segments(codes); g++) {
        const float *a = styles + (size_t)g * s->dim;
        const float *b = styles + (size_t)(codes > 1 ? g + 1 : g) * s->dim;
        for (int k = 0; !st && k < F; k++) {
            float t = ease(k, F);
            lerp(a, b, t, s->dim, s->s_mix);
            st = frame_out(s, is_ref, s->s_mix, (float)g + (codes > 1 ? t : 0.0f), &frame, v, err);
        }
    }
    if (!st && rest_frame(codes, F)) /* segments too short to reach the last style */
        st = frame_out(s, is_ref, styles + (size_t)(codes - 1) * s->dim, (float)(codes - 1), &frame,
                       v, err);
    if (!st) st = sg_video_finish(v, NULL, NULL, err);
    sg_video_free(v);
    sg_image_free(&frame);
    free(path);
    return st;
}

static long work_units(const sampler *s) {
    const options *o = s->o;
    long n = 0;
    if (o->want[OUT_REFERENCE]) n += (long)s->nsrc * s->nref;
    if (o->want[OUT_LATENT]) n += (long)s->nsrc * s->nlat;
    if (o->want[OUT_VIDEO_REF])
        n += (long)s->nsrc * (o->frames * segments(s->nref) + rest_frame(s->nref, o->frames));
    if (o->want[OUT_VIDEO_LATENT])
        n += (long)s->nsrc * (o->frames * segments(s->nlat) + rest_frame(s->nlat, o->frames));
    return n;
}

/* Every output's size, checked before any work. */
static sg_status too_big(const sampler *s, const char *what, int64_t w, int64_t h, int64_t side,
                         const char *hint, sg_error *err) {
    return sg_error_set(err, SG_ERR_LIMIT,
                        "%s would be %lld×%lld pixels (at most %lld a side, %lld in all): use %s%s",
                        what, (long long)w, (long long)h, (long long)side,
                        (long long)SG_SAMPLE_MAX_PIXELS, hint,
                        s->o->paste ? ", or leave out --paste" : "");
}

static int over(int64_t w, int64_t h, int64_t side) {
    return w > side || h > side || w * h > SG_SAMPLE_MAX_PIXELS;
}

/* Every output's size, checked before any work (with --paste again once the photos' sizes are
 * known). */
static sg_status check_sizes(const sampler *s, sg_error *err) {
    const options *o = s->o;
    const int64_t W = s->cw, H = s->ch, img_max = 65535, vid_max = SG_VIDEO_MAX_SIDE;
    if (o->want[OUT_REFERENCE] && over((s->nref + 1) * W, (s->nsrc + 1) * H, img_max))
        return too_big(s, "reference.png", (s->nref + 1) * W, (s->nsrc + 1) * H, img_max,
                       "fewer photos", err);
    if (o->want[OUT_LATENT] && over((s->nlat + 1) * W, s->nsrc * H, img_max))
        return too_big(s, "latent.png", (s->nlat + 1) * W, s->nsrc * H, img_max,
                       "fewer sources or --seeds", err);
    int64_t vw = 0;
    if (o->want[OUT_VIDEO_LATENT]) vw = s->nsrc * W;
    if (o->want[OUT_VIDEO_REF]) vw = ref_column(s) + s->nsrc * W;
    if (vw && over(vw, 2 * H, vid_max))
        return too_big(s, "video frames", vw, 2 * H, vid_max,
                       "fewer sources, or --outputs reference,latent", err);
    return SG_OK;
}

/* --paste: a cell holds the largest photo (at least S², sides even for the videos' codec) */
static void paste_cells(sampler *s) {
    s->cw = s->ch = s->S;
    for (int i = 0; s->o->paste && i < s->nsrc; i++) {
        if (s->src[i].whole.w > s->cw) s->cw = s->src[i].whole.w;
        if (s->src[i].whole.h > s->ch) s->ch = s->src[i].whole.h;
    }
    s->cw += s->cw % 2, s->ch += s->ch % 2;
}

static sg_status styles(sampler *s, sg_error *err) {
    const options *o = s->o;
    sg_status st = SG_OK;
    for (int j = 0; !st && j < s->nref && s->s_ref; j++) {
        st = sg_engine_style_ref(&s->e, &s->run, &s->ref[j].view, SG_FIT_STRETCH, s->ref[j].y,
                                 s->s_ref + (size_t)j * s->dim, err);
        if (st) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return sg_error_set(err, st, "%s: %s", s->ref[j].path, msg);
        }
    }
    for (int y = 0; !st && y < s->e.cfg.num_domains && s->s_lat; y++)
        for (int k = 0; !st && k < o->seeds; k++)
            st = sg_engine_style_latent(&s->e, o->seed0 + (uint64_t)k, y, o->psi,
                                        s->s_lat + ((size_t)y * o->seeds + k) * s->dim, err);
    return st;
}

static sg_status run(sampler *s, sg_error *err) {
    const options *o = s->o;
    sg_status st = sg_engine_open(&s->e, o->model, o->fan, err);
    if (st) return st;
    s->engine_open = 1;
    if (o->mean && (st = sg_engine_set_mean_landmarks(&s->e, o->mean, err))) return st;
    if ((st = sg_run_init(&s->run, &s->e, err))) return st;
    s->run_open = 1;
    if (o->detector && ((st = sg_face_detector_load(&s->det, o->detector, err)) ||
                        (st = sg_run_reserve(&s->run, sg_detector_plan(&s->det.net), err))))
        return st;
    s->S = s->e.cfg.img_size, s->dim = s->e.cfg.style_dim;
    s->cw = s->ch = s->S;
    const int need_ref = o->want[OUT_REFERENCE] || o->want[OUT_VIDEO_REF];
    const int need_lat = o->want[OUT_LATENT] || o->want[OUT_VIDEO_LATENT];
    s->nlat = need_lat ? s->e.cfg.num_domains * o->seeds : 0;
    if ((st = collect(&s->e.cfg, o->src_dir, 0, &s->src, &s->nsrc, err))) return st;
    if (need_ref && (st = collect(&s->e.cfg, o->ref_dir, 1, &s->ref, &s->nref, err))) return st;
    if ((st = check_sizes(s, err))) return st;
    s->s_mix = calloc((size_t)s->dim, sizeof(float));
    s->s_ref = need_ref ? calloc((size_t)s->nref * s->dim, sizeof(float)) : NULL;
    s->s_lat = need_lat ? calloc((size_t)s->nlat * s->dim, sizeof(float)) : NULL;
    if (!s->s_mix || (need_ref && !s->s_ref) || (need_lat && !s->s_lat))
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    if ((st = load(s, s->src, s->nsrc, 1, err)) || (st = load(s, s->ref, s->nref, 0, err)))
        return st;
    paste_cells(s);
    if (o->paste && (st = check_sizes(s, err))) return st;
    if ((st = styles(s, err))) return st;
    if ((st = cli_mkdirs(o->out_dir, err))) return st;

    cli_progress_start(&s->prog, work_units(s));
    char what[48];
    for (int k = 0; !st && k < OUT_COUNT; k++) {
        if (!o->want[k]) continue;
        snprintf(what, sizeof what, "%s.%s", out_names[k],
                 k >= OUT_VIDEO_REF          ? sg_video_extension(o->vfmt)
                 : o->gfmt == SG_FORMAT_JPEG ? "jpg"
                                             : "png");
        cli_progress_step(&s->prog, 0, what);
        st = k == OUT_REFERENCE ? reference_grid(s, err)
             : k == OUT_LATENT  ? latent_grid(s, err)
                                : video(s, k, err);
    }
    cli_progress_end(&s->prog);
    if (!st && s->prog.tty)
        fprintf(stderr, "stargan sample: %d source%s, %d reference%s: %s written in %.1f s\n",
                s->nsrc, s->nsrc == 1 ? "" : "s", s->nref, s->nref == 1 ? "" : "s", o->out_dir,
                (sg_now_ms() - s->prog.t0) / 1000.0);
    return st;
}

int cmd_sample(int argc, char **argv) {
    cli_opt t[] = {
        {"--model", "M", "model file (.safetensors) or release checkpoint (.ckpt)", NULL},
        {"--src-dir", "S", "source photos: S/<domain>/*.jpg (or directly in S)", NULL},
        {"--ref-dir", "R", "reference photos: R/<domain>/*.jpg", NULL},
        {"--out-dir", "O", "where the outputs go (created)", NULL},
        {"--outputs", "LIST", "which of reference,latent,video_ref,video_latent",
         "reference,latent,video_ref,video_latent"},
        {"--seeds", "N", "latent styles per domain (latent.png, video_latent)", "3"},
        {"--seed", "K", "the first seed (then K+1, ...)", "0"},
        {"--psi", "P", "truncation of the latent styles, in [0, 1]", "1"},
        {"--frames", "F", "video frames per interpolation segment", "40"},
        {"--fps", "N", "video frames per second", "20"},
        {"--video", "FMT", "mp4 (H.264) or webp (animated WebP)", "mp4"},
        {"--format", "FMT", "of the grids: png or jpg", "png"},
        {"--quality", "Q", "JPEG quality 1..100", "90"},
        {"--fit", "MODE", "crop (centre), stretch, or align (the face; needs --mean)", "crop"},
        {"--fan", "F", "face network (wing.ckpt or a model file with fan.* tensors)", NULL},
        {"--mean", "LM.npz", "mean face landmarks for --fit align (celeba_lm_mean.npz)", NULL},
        {"--max-pixels", "N", "refuse photos with more pixels", "40000000"},
        {"--crop", "X,Y,W,H", "every source photo: this region (made square around it)", NULL},
        {"--face", "auto|N", "every source photo: its best (or N-th) detected face", NULL},
        {"--paste", NULL,
         "every cell the whole photo with its region (--crop, --face, else the --fit's own) "
         "translated and put back; cells the largest photo's size",
         NULL},
        {"--detector", "D",
         "face detector for --face (default: $STARGAN_DETECTOR, else " SG_DETECTOR_DEFAULT ")",
         NULL},
        {"--help", NULL, "show this help", NULL},
        {0},
    };
    const char *pos[1];
    int np;
    options o = {0};
    if (cli_parse(argc, argv, t, pos, 0, &np)) return cli_usage_error("sample", NULL);
    if (cli_get(t, "--help")) {
        cli_usage("sample",
                  "--model M --src-dir S --ref-dir R --out-dir O [--outputs LIST] [--seeds N] "
                  "[--frames F] [--fps N] [--video mp4|webp]",
                  t);
        return 0;
    }
    if (check_options(t, &o)) return cli_usage_error("sample", NULL);
    sampler s = {0};
    s.o = &o;
    sg_error err = {0};
    sg_status st = run(&s, &err);
    if (st) cli_progress_end(&s.prog);
    photos_free(s.src, s.nsrc), photos_free(s.ref, s.nref);
    free(s.s_ref), free(s.s_lat), free(s.s_mix);
    if (s.run_open) sg_run_free(&s.run);
    if (s.engine_open) sg_engine_free(&s.e);
    sg_face_detector_free(&s.det);
    if (st) {
        fprintf(stderr, "stargan sample: %s\n", err.msg[0] ? err.msg : sg_status_name(st));
        return 1;
    }
    return 0;
}
