/* engine/: a loaded model ready to translate photos, split llama2.c-style into
 *   sg_engine: read-only after open: the weights source, the configuration, the networks, and the
 *              per-domain mean styles (computed on first use under a lock, then cached);
 *   sg_run:    one worker's run state: the activation arena and conv workspace, planned once from
 *              the configuration and reused for every request.
 * Any number of threads may share one engine, each with its own sg_run. The CLI and the server
 * both drive translation through this API. */
#ifndef SG_ENGINE_H
#define SG_ENGINE_H

#include <pthread.h>

#include "../faces/faces.h"
#include "../image/image.h"
#include "../styles/styles.h"

#define SG_STYLE_MEAN_DRAWS 10000

typedef struct {
    sg_config cfg;
    sg_weights *w;
    sg_weights *fan_w; /* a separate face-network source (--fan), or NULL */
    sg_generator gen;
    sg_mapping map;
    sg_style_encoder enc;
    sg_fan fan;                       /* the face network, when has_fan */
    int has_fan;                      /* bound from fan_w, or from w's `fan.*` tensors */
    int has_mean_lm;                  /* mean landmarks loaded (SG_FIT_ALIGN) */
    double mean_lm[2 * SG_LANDMARKS]; /* [98, 2] in 256-pixel units */
    float *s_avg;                     /* [num_domains, style_dim] */
    uint8_t *s_avg_ready;
    pthread_mutex_t s_avg_lock;
    sg_precision precision;    /* SG_PRECISION_FP32 unless sg_engine_set_precision chose bf16 */
    sg_packed_weights *packed; /* weights converted / transformed once (net.h), or NULL */
} sg_engine;

typedef struct {
    sg_arena arena; /* activations for one image */
    sg_workspace ws;
} sg_run;

/* Milliseconds spent per stage by the last call that filled it (NULL: not measured). */
typedef struct {
    double faces_ms; /* fitting or aligning the photo, and the FAN's masks (w_hpf > 0) */
    double style_ms;
    double generator_ms; /* translate: the whole generator (encoder and decoder); decode: the
                          * decoder */
    double paste_ms;     /* regions: cutting the square out, the canvas copy, putting it back */
    double encode_ms;    /* translate, encode: the generator's encoder (within generator_ms for
                       * translate) */
} sg_timing;

/* Opens a model file (sg_model_open), derives its configuration and binds every network.
 * fan_path (may be NULL) names a separate source of the face network's `fan.*` tensors (a model
 * file or wing.ckpt); otherwise they are looked for in the model itself. A model that needs face
 * masks (w_hpf > 0) and has no face network either way is refused here. */
sg_status sg_engine_open(sg_engine *e, const char *model_path, const char *fan_path, sg_error *err);
/* Same with the files read into private memory at once (sg_model_load), for a process that
 * outlives its files: replacing or truncating them later changes nothing. model_info and
 * fan_info (may be NULL) receive the files' size and mtime as read. */
sg_status sg_engine_load(sg_engine *e, const char *model_path, const char *fan_path,
                         sg_file_info *model_info, sg_file_info *fan_info, sg_error *err);
/* Same from an already-open source (owned by the engine from then on, even on failure). The
 * face network is bound from w when w_hpf > 0 or cfg->has_fan, if w has it (a source without
 * it is not an error here: translate refuses later; sg_engine_open refuses at once). */
sg_status sg_engine_init(sg_engine *e, sg_weights *w, const sg_config *cfg, sg_error *err);
/* Binds the face network from a separate source (owned by the engine from then on, even on
 * failure), replacing one bound from the model. Call before sg_run_init. */
sg_status sg_engine_set_fan(sg_engine *e, sg_weights *fan_w, sg_error *err);
/* Loads the mean CelebA-HQ landmarks (celeba_lm_mean.npz) that SG_FIT_ALIGN aligns onto. */
sg_status sg_engine_set_mean_landmarks(sg_engine *e, const char *path, sg_error *err);
void sg_engine_free(sg_engine *e);
/* Precision of every network run through this engine, with its weights packed now (net.h
 * sg_packed_weights), by running each network one time on a grey photo (call it after
 * sg_engine_set_fan): fp32 keeps the Winograd U of the large layers (the same bytes as an engine
 * without this call, which transforms them per call), bf16 converts every layer's weights and
 * is refused with a one-line reason on a CPU without AVX512-BF16 (the engine then stays fp32
 * without packed weights). */
sg_status sg_engine_set_precision(sg_engine *e, sg_precision p, sg_error *err);

/* A run state sized for this engine's networks on one image (the FAN, masks and alignment
 * included when the engine has a face network). */
sg_status sg_run_init(sg_run *r, const sg_engine *e, sg_error *err);
void sg_run_free(sg_run *r);
/* Grows the run's arena to at least floats (another network run on it, e.g. the detector). */
sg_status sg_run_reserve(sg_run *r, size_t floats, sg_error *err);

/* Style code s[style_dim] from a reference photo of domain y. SG_FIT_ALIGN aligns the photo
 * first (needs the face network and the mean landmarks). */
sg_status sg_engine_style_ref(const sg_engine *e, sg_run *r, const sg_image *ref, sg_fit fit, int y,
                              float *s, sg_error *err);
/* Style code from the latent sampler seeded by seed, truncated towards the domain's mean style
 * by psi (1 = no truncation). The first psi < 1 call for a domain computes its mean style. */
sg_status sg_engine_style_latent(sg_engine *e, uint64_t seed, int y, float psi, float *s,
                                 sg_error *err);
/* The photo translated with style s: out is img_size × img_size RGB. t may be NULL. With
 * SG_FIT_ALIGN the photo is aligned first; with w_hpf > 0 the masks come from the FAN on the
 * (aligned or fitted) source. */
sg_status sg_engine_translate(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                              const float *s, sg_image *out, sg_timing *t, sg_error *err);

/* ---- a photo encoded once, translated into any number of styles ----------------------------
 * The generator's encoder does not read the style, so a grid, a video or a sample grid encodes
 * its photo once (sg_engine_encode: the fit or alignment, the FAN's masks for w_hpf > 0, the
 * encoder) and decodes it per style (sg_engine_decode). sg_engine_translate is the two in a row,
 * so sg_engine_decode(sg_engine_encode(photo), s) gives its bytes exactly. An encoded photo is
 * its own heap memory (h, the high-pass skips and the masks: about 0.5 MiB at 256² for w_hpf = 0,
 * 14.6 MiB with the face path), read only by decode: it outlives the run and its arena, and any
 * run of an engine with the same configuration (another thread's included) may decode it. */
typedef struct sg_encoded sg_encoded;
/* *out = the photo encoded, fit as sg_engine_translate's; t (may be NULL) gets faces_ms and
 * encode_ms. *out is NULL on an error. */
sg_status sg_engine_encode(const sg_engine *e, sg_run *r, const sg_image *src, sg_fit fit,
                           sg_encoded **out, sg_timing *t, sg_error *err);
/* out (img_size × img_size RGB) = the encoded photo translated with style s [style_dim]; t (may
 * be NULL) gets generator_ms (the decoder). An encoded photo of another configuration is
 * refused (SG_ERR_ARG). */
sg_status sg_engine_decode(const sg_engine *e, sg_run *r, const sg_encoded *enc, const float *s,
                           sg_image *out, sg_timing *t, sg_error *err);
/* out[0 .. k) = the encoded photo translated with styles s [k, style_dim], each the bytes
 * sg_engine_decode gives for its style: the decoder's low-resolution head runs the k styles as
 * one batch (sg_generator_decode_head), the rest per style. k is 1 to SG_ENGINE_MAX_STYLES; the
 * run's arena grows for the batch, once and kept, on a call that finds it empty (its size:
 * sg_generator_head_plan). t (may be NULL) gets generator_ms for all k. On an error no image is left. */
#define SG_ENGINE_MAX_STYLES 8
sg_status sg_engine_decode_styles(const sg_engine *e, sg_run *r, const sg_encoded *enc,
                                  const float *s, int k, sg_image *out, sg_timing *t,
                                  sg_error *err);
/* out[i] = enc[i] (k encoded photos of this engine, the same one or several) translated with
 * style i of s [k, style_dim], as sg_engine_decode_styles: several requests' photos through the
 * decoder's head as one batch. */
sg_status sg_engine_decode_many(const sg_engine *e, sg_run *r, const sg_encoded *const *enc,
                                const float *s, int k, sg_image *out, sg_timing *t, sg_error *err);
size_t sg_encoded_bytes(const sg_encoded *enc); /* the heap memory it holds */
void sg_encoded_free(sg_encoded *enc);          /* NULL is fine */

/* The photo aligned onto the CelebA-HQ framing: stretched to img_size², its landmarks from the
 * FAN, then sg_face_align. aligned is img_size × img_size RGB (free with sg_image_free). */
sg_status sg_engine_align(const sg_engine *e, sg_run *r, const sg_image *photo, sg_image *aligned,
                          sg_error *err);

/* ---- the face detector (engine/detector.c), shared by every model of a process ------------- */
#define SG_DETECTOR_DEFAULT "models/detector.safetensors"
#define SG_DETECTOR_ENV     "STARGAN_DETECTOR"
/* The detector a process uses: given (a path, or "none" for no detector), else $STARGAN_DETECTOR
 * (likewise), else SG_DETECTOR_DEFAULT when that file exists; NULL for none. */
const char *sg_detector_path(const char *given);

typedef struct {
    sg_weights *w; /* a private copy (sg_model_load): the file may change afterwards */
    sg_detector net;
} sg_face_detector;
/* Loads and binds the detector at path (a converted file or a TensorFlow.js manifest). */
sg_status sg_face_detector_load(sg_face_detector *d, const char *path, sg_error *err);
void sg_face_detector_free(sg_face_detector *d);

/* A caller's store of the FAN's landmarks (the server's cost cache), keyed by the square the FAN
 * sees (the photo stretched to img_size²): get fills lm [SG_LANDMARKS, 2] and returns 1 when it
 * holds them for sq; after a miss, put keeps a copy of lm found for that same square. memo is
 * the store's own, from get to its put (the server: the square's key, hashed once). */
typedef struct sg_landmark_store sg_landmark_store;
struct sg_landmark_store {
    int (*get)(sg_landmark_store *k, const sg_image *sq, double *lm);
    void (*put)(sg_landmark_store *k, const double *lm);
    void *ctx;
    unsigned char memo[32];
};
/* sg_engine_align with the landmarks looked up in keep first (NULL: none) and put there when the
 * FAN found them (the same bytes either way), and the similarity map mat (NULL: not wanted;
 * sg_face_align's: from the photo stretched to img_size² and padded by img_size/2 on every side,
 * to the aligned image). */
sg_status sg_engine_align_kept(const sg_engine *e, sg_run *r, const sg_image *photo,
                               sg_landmark_store *keep, sg_image *aligned, double mat[9],
                               sg_error *err);

/* ---- regions of a photo (engine/regions.c): translate a crop or detected faces, paste back ---
 * A request names a region by crop (x,y,w,h of the photo as displayed) or by face (the detector's
 * best, its N-th, or all of them). Each region becomes a square (sg_rect_square): a crop's own
 * square, a detected face's box grown SG_FACE_GROW times on face models (w_hpf > 0: the FAN and
 * the alignment want the whole head and some background), its own square on others. */
#define SG_FACE_AUTO     (-1)
#define SG_FACE_ALL      (-2)
#define SG_FACE_GROW     3.0
#define SG_FACE_MIN_SIDE 24 /* a face box whose larger side is smaller is refused (or skipped) */
/* "auto", "all", or an index 0..99; 0 or -1. */
int sg_face_select_parse(const char *s, int *sel);

typedef enum { SG_REGION_NONE = 0, SG_REGION_CROP, SG_REGION_FACE } sg_region_mode;
typedef struct {
    sg_region_mode mode;
    sg_rect crop; /* SG_REGION_CROP */
    int face;     /* SG_REGION_FACE: SG_FACE_AUTO, SG_FACE_ALL or an index */
} sg_region_ask;

/* The squares to translate (at most max into sq, *n of them): errors SG_ERR_ARG (a crop outside
 * the photo), SG_ERR_UNSUPPORTED (face= without a detector), SG_ERR_MISSING (no face, or face N
 * past the list, or too small: the message says which and suggests crop=). *detect_ms (may be
 * NULL) receives the detector's time. */
sg_status sg_regions_find(const sg_engine *e, const sg_face_detector *d, sg_run *r,
                          const sg_image *photo, const sg_region_ask *q, sg_rect *sq, int max,
                          int *n, double *detect_ms, sg_error *err);
/* Region sq of photo translated with style s: out (img_size²) is what the networks made, with fit
 * (SG_FIT_ALIGN aligns the square first: callers pass it for a face model's faces). When
 * canvas is not NULL (a copy of photo), the translation is put back into it over sq: feathered
 * (sg_image_paste), or warped back through the inverse alignment when aligned. t (may be NULL)
 * has the stages' times added to it. */
sg_status sg_engine_translate_region(const sg_engine *e, sg_run *r, const sg_image *photo,
                                     sg_rect sq, sg_fit fit, const float *s, sg_image *out,
                                     sg_image *canvas, sg_timing *t, sg_error *err);

/* A region made ready for the networks: square sq of the photo, and net, what they see of it
 * (img_size²: the square fitted with fit, or with SG_FIT_ALIGN aligned, mat the similarity map).
 * Translating net with SG_FIT_STRETCH gives the bytes of translating the square with its fit, so
 * a request may encode net once (sg_engine_encode) and decode it per style. */
typedef struct {
    sg_rect sq;
    sg_fit fit;
    double mat[9]; /* SG_FIT_ALIGN */
    sg_image net;
} sg_region_view;
/* t (may be NULL): the cut in paste_ms, the alignment in faces_ms; keep (may be NULL): where an
 * aligned region's landmarks are looked up and kept (sg_engine_align_kept). */
sg_status sg_region_view_make(const sg_engine *e, sg_run *r, const sg_image *photo, sg_rect sq,
                              sg_fit fit, sg_landmark_store *keep, sg_region_view *v, sg_timing *t,
                              sg_error *err);
void sg_region_view_free(sg_region_view *v);
/* canvas = a copy of photo with out (a translation of v->net: sg_engine_decode_styles') put
 * back over v->sq, the bytes sg_engine_translate_region pastes: a
 * grid's cell or a video's frame of a pasted photo. t (may be NULL): paste_ms added to. */
sg_status sg_region_paste_into(const sg_engine *e, const sg_image *photo, const sg_region_view *v,
                               const sg_image *out, sg_image *canvas, sg_timing *t, sg_error *err);
/* out (a translation of v->net) put back into canvas over v->sq: feathered (sg_image_paste), or
 * warped back through the inverse alignment. */
sg_status sg_region_put_back(const sg_engine *e, const sg_region_view *v, const sg_image *out,
                             sg_image *canvas, sg_timing *t, sg_error *err);
/* The fit a region is translated with: SG_FIT_ALIGN for a face model's detected faces, else fit. */
sg_fit sg_region_fit(const sg_engine *e, const sg_region_ask *q, sg_fit fit);
/* *img replaced by its region's square (one: the crop's, or the face q names; q->face is not
 * SG_FACE_ALL), *sq that square, *fit the region's (sg_region_fit). Errors as sg_regions_find's;
 * *img is freed (zeroed) on any. For a grid's or video's source and a reference photo. */
sg_status sg_regions_cut(const sg_engine *e, const sg_face_detector *d, sg_run *r, sg_image *img,
                         const sg_region_ask *q, sg_fit *fit, sg_rect *sq, double *detect_ms,
                         sg_error *err);
/* The squares of a region request (sg_regions_find; none asked: the fit's own region, the centre
 * square or, for stretch, the whole photo; at most max into sq, *n of them). */
sg_status sg_regions_plan(const sg_engine *e, const sg_face_detector *d, sg_run *r,
                          const sg_image *photo, const sg_region_ask *q, sg_fit fit, sg_rect *sq,
                          int max, int *n, double *detect_ms, sg_error *err);
/* A whole region request on one photo: sg_regions_plan, then each square translated with the
 * regions' fit (sg_engine_translate_region); with canvas (NULL: no paste; else made here as a
 * copy of photo) every one put back into it. out: the last translation. */
sg_status sg_engine_translate_regions(const sg_engine *e, const sg_face_detector *d, sg_run *r,
                                      const sg_image *photo, const sg_region_ask *q, sg_fit fit,
                                      const float *s, sg_image *out, sg_image *canvas, sg_rect *sq,
                                      int max, int *n, sg_timing *t, double *detect_ms,
                                      sg_error *err);

double sg_now_ms(void); /* monotonic clock */

#endif
