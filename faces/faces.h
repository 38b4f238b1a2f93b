/* faces/: what CelebA-HQ models need around the generator (docs/networks.md "The face
 * network (FAN)", "Face masks from heatmaps", "Landmarks", "Face alignment"):
 *   - the FAN landmark network (CoordConv, ConvBlock, depth-4 hourglass) on the shared core,
 *   - the two generator masks and the 98 landmarks computed from its heatmaps,
 *   - face alignment onto the CelebA-HQ framing (mirror padding, blurred background, similarity
 *     transform from landmarks, OpenCV-style Lanczos-4 warp),
 *   - bounded readers for the mean landmarks (.npz / .npy) and user landmarks (JSON).
 * Config / Weights / RunState as in generator/: weights are read-only pointers into a source,
 * activations come from a caller's arena planned with sg_fan_plan. */
#ifndef SG_FACES_H
#define SG_FACES_H

#include "../image/image.h"
#include "../model/model.h"
#include "../net/net.h"

#define SG_FAN_INPUT    256 /* side the FAN sees */
#define SG_FAN_HM       64  /* side of its heatmaps */
#define SG_FAN_OUT      99  /* heatmap channels (the first 98 are landmarks) */
#define SG_LANDMARKS    98
#define SG_MASK_SIDE    256 /* masks are [N, 1, 256, 256] */
#define SG_FAN_HG_DEPTH 4   /* hourglass levels */

/* ---- FAN ------------------------------------------------------------------------------------ */
/* Inference BatchNorm: (x - mean) / sqrt(var + 1e-5) · weight + bias, all [C]. */
typedef struct {
    const float *mean, *var, *weight, *bias;
} sg_fan_bn;

/* ConvBlock(in, out): o1 = conv1(relu(bn1 x)) [out/2], o2 = conv2(relu(bn2 o1)) [out/4],
 * o3 = conv3(relu(bn3 o2)) [out/4] (3×3, no bias); concat + x, or + the 1×1 `downsample` of
 * relu(bn x) when in != out. */
typedef struct {
    int in, out;
    sg_fan_bn bn1, bn2, bn3, ds_bn;
    const float *conv1_w; /* [out/2, in, 3, 3] */
    const float *conv2_w; /* [out/4, out/2, 3, 3] */
    const float *conv3_w; /* [out/4, out/4, 3, 3] */
    const float *ds_w;    /* [out, in, 1, 1] when in != out, else NULL */
} sg_convblock;

typedef struct {
    const float *conv1_w, *conv1_b;   /* CoordConv 7×7 stride 2: [64, 6, 7, 7], [64] */
    sg_fan_bn bn1;                    /* [64] */
    sg_convblock conv2, conv3, conv4; /* (64,128) at 128², (128,128), (128,256) at 64² */
    const float *cc_w, *cc_b;         /* m0.coordconv 1×1: [256, 259, 1, 1], [256] */
    sg_convblock b1[SG_FAN_HG_DEPTH], b2[SG_FAN_HG_DEPTH], b3[SG_FAN_HG_DEPTH]; /* [n-1] = b*_n */
    sg_convblock b2_plus_1, top;  /* m0.b2_plus_1, top_m_0 */
    const float *last_w, *last_b; /* conv_last0 1×1: [256, 256, 1, 1], [256] */
    sg_fan_bn bn_end;             /* bn_end0 [256] */
    const float *l0_w, *l0_b;     /* l0 1×1: [99, 256, 1, 1], [99] */
    size_t params;
} sg_fan;

/* Binds every `fan.*` tensor the network needs from w (names as in fixtures/names; extra tensors
 * of a larger FAN and the int64 num_batches_tracked counters are never asked for). Errors name
 * the source and the tensor; a source without the network gives SG_ERR_MISSING. */
sg_status sg_fan_init(sg_fan *f, sg_weights *w, sg_error *err);
/* Arena floats one sg_fan_forward needs (any batch: samples run one at a time). */
size_t sg_fan_plan(const sg_fan *f);
/* Multiply-adds ×2 of one sample. */
double sg_fan_flops(const sg_fan *f);
/* hm [N, 99, 64, 64] = FAN(x) for x [N, 3, H, W] in [-1, 1] (any H, W: resized bilinearly with
 * align_corners false to 256², then ·0.5 + 0.5). */
sg_status sg_fan_forward(const sg_fan *f, const sg_tensor *x, sg_tensor *hm, sg_arena *a,
                         sg_workspace *ws, sg_error *err);

/* ---- masks and landmarks from heatmaps ------------------------------------------------------ */
/* Arena floats sg_masks_from_heatmaps needs. */
size_t sg_masks_plan(void);
/* hm [N, ≥98, 64, 64] (extra channels ignored) → masks[0], masks[1] each [N, 1, 256, 256]: the
 * spec's steps 1-8 (threshold, per-plane min-max, shifts and powers per face part, sums). */
sg_status sg_masks_from_heatmaps(const sg_tensor *hm, sg_tensor masks[2], sg_arena *a,
                                 sg_error *err);
/* hm [N, ≥98, Hh, Wh] raw heatmaps → lm [N, 98, 2] (x, y) in pixels of a side × side image:
 * first maximum per channel, nudged a quarter cell towards the larger neighbour. */
sg_status sg_landmarks_from_heatmaps(const sg_tensor *hm, int side, double *lm, sg_error *err);

/* ---- mean landmarks and user landmarks -------------------------------------------------------- */
#define SG_NPZ_MAX_BYTES      ((size_t)16 << 20) /* an .npz file larger than this is refused */
#define SG_NPY_MAX_HEADER     4096               /* header dict bytes */
#define SG_LANDMARKS_JSON_MAX ((size_t)1 << 20)  /* landmarks .json file bytes */

/* An .npy blob holding a float array of shape (98, 2) ('<f4' or '<f8', C order) → mean[98·2]. */
sg_status sg_npy_read_landmarks(const void *data, size_t size, const char *label, double *mean,
                                sg_error *err);
/* An .npz (zip) in memory: its entry `<key>.npy` through sg_npy_read_landmarks. */
sg_status sg_npz_read_landmarks(const void *data, size_t size, const char *key, const char *label,
                                double *mean, sg_error *err);
/* The release's celeba_lm_mean.npz (key `mean`, 98×2 in 256-pixel units) from a file. */
sg_status sg_mean_landmarks_load(const char *path, double *mean, sg_error *err);
/* JSON text: an array of 98 [x, y] pairs of finite numbers → lm[98·2]. */
sg_status sg_landmarks_parse_json(const char *text, size_t len, const char *label, double *lm,
                                  sg_error *err);
sg_status sg_landmarks_load_json(const char *path, double *lm, sg_error *err);

/* ---- face alignment ------------------------------------------------------------------------- */
/* The similarity map p ↦ k·R·(p - mean(L)) + mean(M) as a 3×3 matrix (row-major, last row
 * 0 0 1). L, M: [98·2] (x, y). Degenerate landmarks (zero-length axes or spreads) → SG_ERR_ARG. */
sg_status sg_align_matrix(const double *L, const double *M, double mat[9], sg_error *err);
/* Arena floats sg_face_align needs for a side × side image. */
size_t sg_align_plan(int side);
/* Aligns an S × S photo (S even, ≥ 4) with its landmarks lm [98·2] (its pixels) onto the mean
 * landmarks mean256 [98·2] (256-pixel units, scaled by S/256): out is S × S RGB (allocated).
 * mat (may be NULL) receives the map in padded coordinates (pad S/2). */
sg_status sg_face_align(const sg_image *img, const double *lm, const double *mean256, sg_image *out,
                        double mat[9], sg_arena *a, sg_error *err);

/* ---- face detector (detect.c, detect_boxes.c) -----------------------------------------------
 * face-api.js's ssdMobilenetv1 (docs/networks.md "The face detector"): MobileNetV1 at 512²
 * (a 3×3 conv, then 13 depthwise 3×3 + pointwise 1×1 pairs, batch norm, ReLU6), 8 extra layers,
 * box and class heads on six maps (32², 16², 8², 4², 2², 1²) for 5118 anchors. Weights by their
 * TensorFlow.js names (model/tfjs.c's layout), from the manifest or a converted model file. */
#define SG_DET_INPUT     512
#define SG_DET_ANCHORS   5118
#define SG_DET_HEADS     6
#define SG_DET_MAX_FACES 100 /* the reference's maxResults */

typedef struct {
    const float *w, *b; /* [out, in, k, k], [out] */
} sg_det_conv;

typedef struct {
    const float *w;      /* [1, C, 3, 3] */
    float *scale, *bias; /* the batch norm folded (into sg_detector.folded) */
} sg_det_dw;

typedef struct {
    sg_det_conv conv0;    /* 3×3 stride 2, 3 → 32, + bias, ReLU6 */
    sg_det_dw dw[13];     /* MobilenetV1/Conv2d_{1..13}_depthwise */
    sg_det_conv pw[13];   /* MobilenetV1/Conv2d_{1..13}_pointwise */
    sg_det_conv extra[8]; /* Prediction/Conv2d_{0..7}_pointwise */
    sg_det_conv box[SG_DET_HEADS], cls[SG_DET_HEADS];
    const float *anchors; /* [5118, 4]: ymin, xmin, ymax, xmax (relative) */
    float *folded;        /* owned: the depthwise layers' scales and biases */
    size_t params;
} sg_detector;

/* A face in a photo's pixels (x, y: top left) and its score in (0, 1). */
typedef struct {
    double x, y, w, h;
    float score;
} sg_face_box;

sg_status sg_detector_init(sg_detector *d, sg_weights *w, sg_error *err);
void sg_detector_free(sg_detector *d);
/* Arena floats sg_detect_faces needs (sg_detector_forward needs less). */
size_t sg_detector_plan(const sg_detector *d);
/* The network: x [1, 3, 512, 512] in [-1, 1] → enc [5118·4] box encodings (ty, tx, th, tw)
 * and score [5118] (sigmoid of class 1), anchors in the reference's order. */
sg_status sg_detector_forward(const sg_detector *d, const sg_tensor *x, float *enc, float *score,
                              sg_arena *a, sg_workspace *ws, sg_error *err);
/* The encodings enc [5118·4] decoded in place against the anchors into boxes (ymin, xmin, ymax,
 * xmax), relative to the padded square. */
void sg_detector_decode(const sg_detector *d, float *enc);
/* face-api.js's non-maximum suppression over decoded boxes [5118·4] (ymin, xmin, ymax, xmax):
 * the anchors scoring > min_score by descending score, each kept unless a kept one overlaps it by
 * IoU > 0.5; at most max_out indices into selected. Returns their count, -1 when out of memory. */
int sg_detector_nms(const float *boxes, const float *scores, float min_score, int max_out,
                    int *selected);
/* Faces of a photo scoring > min_score, by descending score: the photo padded to a square and
 * resized (sg_image_to_tensor_tf), the network, decoding, NMS, boxes in the photo's pixels
 * (clipped to it). At most max_faces into faces; *n_faces their count. */
sg_status sg_detect_faces(const sg_detector *d, const sg_image *img, float min_score,
                          sg_face_box *faces, int max_faces, int *n_faces, sg_arena *a,
                          sg_workspace *ws, sg_error *err);

/* The detect answer: {"width":W,"height":H,"faces":[{"box":[x,y,w,h],"score":s},...]} into buf
 * (cap bytes, NUL-terminated when it fits); returns the length the whole text needs (as
 * snprintf). SG_DET_JSON_MAX holds any n ≤ SG_DET_MAX_FACES. */
#define SG_DET_JSON_MAX (64 + SG_DET_MAX_FACES * 96)
size_t sg_faces_json(const sg_face_box *faces, int n, int w, int h, char *buf, size_t cap);

/* ---- chained steps -------------------------------------------------------------------------- */
/* Any photo stretched to side × side (Pillow bilinear, as the reference's aligner input). */
sg_status sg_face_square(const sg_image *photo, int side, sg_image *out, sg_error *err);
/* Landmarks given in a w × h photo's pixels → the same points in its side × side stretch. */
void sg_landmarks_to_square(double *lm, int w, int h, int side);
/* Arena floats sg_face_landmarks needs for a side × side photo. */
size_t sg_face_landmarks_plan(const sg_fan *f, int side);
/* lm [98·2] of a square photo (its pixels): FAN on it, landmarks from the heatmaps. */
sg_status sg_face_landmarks(const sg_fan *f, const sg_image *img, double *lm, sg_arena *a,
                            sg_workspace *ws, sg_error *err);

#endif
