/* image/video: animations from a sequence of RGB frames, to a file or to memory.
 *   MP4:  H.264 (libx264 when libavcodec has it, else the first H.264 encoder it has), yuv420p
 *         (BT.601 limited range, tagged so players convert back as they should), CRF 20, one
 *         frame every 1/fps s, muxed by libavformat; a file gets its index (moov) in front
 *         ("faststart": plays while downloading); in memory the index is at the end.
 *   WebP: animated WebP by libwebp's animation encoder (lossy, quality 90, loops forever).
 *         Identical successive frames merge into one longer frame (the duration is kept).
 * Frames are added in order, all the size given at open. In memory, the finished bytes are
 * returned by sg_video_finish (an HTTP answer); with a path, they are written to PATH.part as
 * they come and renamed to PATH by sg_video_finish (PATH.part is removed if the writer is freed
 * unfinished). */
#ifndef SG_VIDEO_H
#define SG_VIDEO_H

#include "image.h"

typedef enum { SG_VIDEO_MP4 = 0, SG_VIDEO_WEBP } sg_video_format;

typedef struct sg_video sg_video; /* opaque */

/* Longest side a frame may have (H.264 level limits aside, libx264 takes up to 16384). */
#define SG_VIDEO_MAX_SIDE 8192

/* "mp4" or "webp" (case-insensitive); -1 when neither. */
int sg_video_format_parse(const char *name);
/* "mp4" / "webp", and the MIME type "video/mp4" / "image/webp". */
const char *sg_video_extension(sg_video_format fmt);
const char *sg_video_mime(sg_video_format fmt);

/* Starts a video of w×h frames at fps frames per second (1..240). path NULL: in memory. MP4
 * needs w and h even (yuv420p); both formats cap sides at SG_VIDEO_MAX_SIDE. SG_ERR_UNSUPPORTED
 * when libavcodec has no H.264 encoder; SG_ERR_IO when the file cannot be created. */
sg_status sg_video_open(sg_video **out, const char *path, sg_video_format fmt, int w, int h,
                        int fps, sg_error *err);
/* Encodes the next frame (RGB, exactly the size given at open). */
sg_status sg_video_add_frame(sg_video *v, const sg_image *rgb, sg_error *err);
/* Flushes the encoder and closes the container. In memory, *bytes (malloc'd; free()) and *len
 * receive the whole file; with a path, bytes and len may be NULL (else *bytes = NULL and *len is
 * the file's size). A video needs at least one frame. Call sg_video_free afterwards either way. */
sg_status sg_video_finish(sg_video *v, uint8_t **bytes, size_t *len, sg_error *err);
/* Frames added so far. */
int sg_video_frames(const sg_video *v);
/* Releases everything; an unfinished file is removed. NULL is a no-op. */
void sg_video_free(sg_video *v);

#endif
