/* image/: photos in and out. Decode PNG/JPEG to 8-bit RGB (as Pillow's convert('RGB')), apply
 * EXIF orientation, fit to a square, resize with Pillow's BILINEAR filter, convert to and from
 * the networks' [-1, 1] NCHW tensors, encode PNG/JPEG. */
#ifndef SG_IMAGE_H
#define SG_IMAGE_H

#include "../net/net.h"

/* Interleaved 8-bit RGB, row-major: pixels[(y·w + x)·3 + ch]. Owned (free with sg_image_free). */
typedef struct {
    uint8_t *pixels;
    int w, h;
} sg_image;

typedef enum { SG_FORMAT_UNKNOWN = 0, SG_FORMAT_PNG, SG_FORMAT_JPEG } sg_image_format;
/* How a photo becomes the network's square: centre-crop, stretch (as the reference), or face
 * alignment (faces/, done by the engine before sg_image_to_tensor, which refuses it). */
typedef enum { SG_FIT_CROP = 0, SG_FIT_STRETCH, SG_FIT_ALIGN } sg_fit;

#define SG_IMAGE_DEFAULT_MAX_PIXELS ((int64_t)40 * 1000 * 1000)

/* The one grammar of these names, for the CLI and the server alike: "crop", "stretch", "align";
 * "png", "jpeg" or "jpg" (case-insensitive). 0, or -1 for anything else. */
int sg_fit_parse(const char *s, sg_fit *fit);
int sg_image_format_parse(const char *s, sg_image_format *fmt);
/* Width and height from a PNG's or JPEG's header, without decoding (0), or -1 when the header
 * cannot be read or claims an empty side or one over the decoder's side limit (the decoder
 * would then refuse the data); so w * h never overflows. */
int sg_image_dims(const uint8_t *data, size_t len, int64_t *w, int64_t *h);

/* Sniffs the format from the first bytes. */
sg_image_format sg_image_sniff(const uint8_t *data, size_t len);
/* Format from a file name's extension (.png, .jpg, .jpeg; case-insensitive). */
sg_image_format sg_image_format_from_path(const char *path);

/* Decodes PNG or JPEG from memory to RGB. Width·height is checked against max_pixels from the
 * header before any pixel is decoded (SG_ERR_LIMIT). Grey, palette, 16-bit and alpha are
 * converted as Pillow's convert('RGB') does (alpha dropped, 16-bit reduced to the high byte).
 * JPEG: EXIF orientation (tags 1..8) is applied when apply_exif != 0. Truncated or corrupt data
 * is an SG_ERR_FORMAT error, never a crash or a longjmp out of this function. */
sg_status sg_image_decode(const uint8_t *data, size_t len, int64_t max_pixels, int apply_exif,
                          sg_image *out, sg_error *err);
sg_status sg_image_load(const char *path, int64_t max_pixels, int apply_exif, sg_image *out,
                        sg_error *err);
void sg_image_free(sg_image *img);

/* Encodes to PNG or JPEG (quality 1..100) into a malloc'd buffer (*out, *out_len; free()). */
sg_status sg_image_encode(const sg_image *img, sg_image_format fmt, int quality, uint8_t **out,
                          size_t *out_len, sg_error *err);
sg_status sg_image_save(const sg_image *img, const char *path, int quality, sg_error *err);

/* Crops the largest centred square (SG_FIT_CROP; left/top offset floor((w-side)/2)) or keeps the
 * whole image (SG_FIT_STRETCH), then resizes to size×size with Pillow's BILINEAR resampling
 * (triangle filter, support widened by the scale when shrinking, 8-bit rounding as Pillow), then
 * writes v/255·2 - 1 into t[0, 0..2, :, :] (t must be [1 or more, 3, size, size]; `index` picks
 * the sample). */
sg_status sg_image_to_tensor(const sg_image *img, sg_fit fit, int size, sg_tensor *t, int index,
                             sg_error *err);
/* TensorFlow.js's detector input (face-api.js toBatchTensor(side, false)): the image padded with
 * zeros on the right or bottom to a max(w, h) square, resized to t's side × side (t [1, 3, side,
 * side]) by TF's legacy bilinear (align_corners and half_pixel_centers false: src = dst · in/out,
 * neighbours floor and floor + 1 clamped, lerp in x then y, in float32), then x/127.5 - 1. The
 * padded square is never made: a 12 MP photo costs the output only. */
sg_status sg_image_to_tensor_tf(const sg_image *img, sg_tensor *t, sg_error *err);
/* Pillow BILINEAR resize of an RGB image region (x0, y0, cw, ch) to ow×oh. */
sg_status sg_image_resize(const sg_image *img, int x0, int y0, int cw, int ch, int ow, int oh,
                          sg_image *out, sg_error *err);
/* sg_image_resize is Pillow's img.crop((x0, y0, x0+cw, y0+ch)).resize((ow, oh),
 * BILINEAR): the filter never reads outside the region. This is img.resize((ow, oh), BILINEAR,
 * box=(box[0], box[1], box[2], box[3])): a fractional box, and the filter may read source pixels
 * around it (clamped to the image). */
sg_status sg_image_resize_box(const sg_image *img, const float box[4], int ow, int oh,
                              sg_image *out, sg_error *err);
/* Network output sample `index` of t [N, 3, H, W] to RGB bytes:
 * floor(clamp((x + 1)/2, 0, 1)·255 + 0.5). */
sg_status sg_image_from_tensor(const sg_tensor *t, int index, sg_image *out, sg_error *err);

/* ---- regions and paste-back (image_paste.c) ----
 * A region of a photo as displayed, in pixels: x, y of its top left, width, height. */
typedef struct {
    int x, y, w, h;
} sg_rect;
/* "x,y,w,h": four decimal integers (no sign or spaces, each below 10^9), w and h ≥ 1; 0 or -1. */
int sg_rect_parse(const char *s, sg_rect *r);
/* r lies within a w × h photo */
int sg_rect_inside(sg_rect r, int w, int h);
/* The square a region is translated as: side grow·max(r.w, r.h) rounded (at most the photo's
 * shorter side), centred on r's centre, then moved (not shrunk) to lie inside the w × h photo. */
sg_rect sg_rect_square(sg_rect r, double grow, int w, int h);
/* The pixels of r (inside img, else SG_ERR_ARG naming the photo's size) into out. */
sg_status sg_image_crop(const sg_image *img, sg_rect r, sg_image *out, sg_error *err);
/* The feather band of a region: max(1, floor(min(w, h)/8)) pixels. */
int sg_feather_band(sg_rect r);
/* src (a translation of r: resized back to r's size with Pillow's bilinear when its size
 * differs) blended into dst over r: weight min(1, d/band) with d the distance from a pixel's
 * centre to r's edge, so pixels band or more inside r get src exactly, and no pixel outside r
 * changes. */
sg_status sg_image_paste(sg_image *dst, const sg_image *src, sg_rect r, sg_error *err);
/* The same through a map: pixel (u, v) of r (relative to its top left) reads src bilinearly at
 * (m0·u + m1·v + m2, m3·u + m4·v + m5), feathered at r's edge and at src's own edge (band
 * min(src w, h)/8); pixels mapping outside src keep the photo. */
sg_status sg_image_paste_warp(sg_image *dst, const sg_image *src, sg_rect r, const double m[6],
                              sg_error *err);

/* ---- composing: grids and video frames ----
 * (The grid of `stargan sample`, frames of its videos, the HTTP /v1/grid answer.) */
/* out = w×h filled with rgb (rgb NULL: black). */
sg_status sg_image_create(sg_image *out, int w, int h, const uint8_t rgb[3], sg_error *err);
/* Copies src into dst with src's top-left corner at (x, y); what falls outside dst is clipped. */
void sg_image_blit(sg_image *dst, const sg_image *src, int x, int y);
/* out = w × h (at least img's size) with img at its top left and img's last column and row
 * repeated to fill the rest (a video codec's even sides without inventing colours). */
sg_status sg_image_extend(const sg_image *img, int w, int h, sg_image *out, sg_error *err);
/* Fills the rectangle (x, y, w, h) of dst with rgb, clipped to dst. */
void sg_image_fill(sg_image *dst, int x, int y, int w, int h, const uint8_t rgb[3]);
/* A rows × cols mosaic without padding: cell (r, c) is cells[r·cols + c], placed at
 * (c·cell_w, r·cell_h); a NULL cell is filled with fill (NULL: black). Every other cell must be
 * exactly cell_w × cell_h (SG_ERR_SHAPE otherwise). */
sg_status sg_image_grid(const sg_image *const *cells, int rows, int cols, int cell_w, int cell_h,
                        const uint8_t fill[3], sg_image *out, sg_error *err);
/* The photo as the network sees it, as bytes: SG_FIT_CROP or SG_FIT_STRETCH then Pillow BILINEAR
 * to size×size, the pixels sg_image_to_tensor converts (SG_FIT_ALIGN: see sg_engine_align). */
sg_status sg_image_fit(const sg_image *img, sg_fit fit, int size, sg_image *out, sg_error *err);

/* ---- video (image/video.c): animations from a sequence of RGB frames, to a file or to memory.
 *   MP4:  H.264 by libx264 (preset medium, CRF 20, up to 2 B-frames, a key frame every 2 s),
 *         yuv420p (BT.601 limited range, tagged so players convert back as they should), one
 *         frame every 1/fps s, written by video.c with its index (moov) in front of the media
 *         data ("faststart": plays while downloading).
 *   WebP: animated WebP by libwebp's animation encoder (lossy, quality 90, loops forever).
 *         Identical successive frames merge into one longer frame (the duration is kept).
 * Frames are added in order, all the size given at open. The file is built in memory; in memory
 * the bytes are returned by sg_video_finish (an HTTP answer); with a path, sg_video_finish writes
 * them to PATH.part and renames it to PATH (PATH.part is created at open, so an unwritable path
 * fails at once, and removed if the writer is freed unfinished). The same frames give the same
 * bytes either way. */
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
