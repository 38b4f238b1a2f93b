/* generator/: the StarGAN v2 Generator and its residual blocks (ResBlk, AdainResBlk; ResBlk is
 * shared with the style encoder). Config / Weights / RunState kept apart (llama2.c): weights are
 * read-only pointers into the model source; activations live in one arena planned from the
 * configuration at init. */
#ifndef SG_GENERATOR_H
#define SG_GENERATOR_H

#include "../model/model.h"
#include "../net/net.h"

#define SG_MAX_BLOCKS 24

/* ---- blocks --------------------------------------------------------------------------------- */
typedef struct {
    int in, out, normalize, downsample;
    const float *norm1_w, *norm1_b, *norm2_w, *norm2_b; /* [in] each, when normalize */
    const float *conv1_w, *conv1_b;                     /* [in, in, 3, 3], [in] */
    const float *conv2_w, *conv2_b;                     /* [out, in, 3, 3], [out] */
    const float *sc_w;                                  /* [out, in, 1, 1] when in != out */
} sg_resblk;

typedef struct {
    int in, out, upsample, w_hpf, style_dim;
    const float *fc1_w, *fc1_b;     /* [2·in, style_dim], [2·in]: AdaIN1 gamma|beta */
    const float *fc2_w, *fc2_b;     /* [2·out, style_dim], [2·out] */
    const float *conv1_w, *conv1_b; /* [out, in, 3, 3], [out] */
    const float *conv2_w, *conv2_b; /* [out, out, 3, 3], [out] */
    const float *sc_w;              /* [out, in, 1, 1] when in != out and w_hpf == 0 */
} sg_adainblk;

/* Binds a block's tensors under `prefix` (e.g. "generator.encode.0"); *params += their sizes. */
sg_status sg_resblk_bind(sg_resblk *b, sg_weights *w, const char *prefix, int in, int out,
                         int normalize, int downsample, size_t *params, sg_error *err);
sg_status sg_adainblk_bind(sg_adainblk *b, sg_weights *w, const char *prefix, int in, int out,
                           int upsample, int w_hpf, int style_dim, size_t *params, sg_error *err);
/* Scratch floats a block needs for a batch of n at input side h (its planning rule). */
size_t sg_resblk_scratch(const sg_resblk *b, int n, int h);
size_t sg_adainblk_scratch(const sg_adainblk *b, int n, int h);
/* Multiply-adds ×2 of one sample at input side h. */
double sg_resblk_flops(const sg_resblk *b, int h);
double sg_adainblk_flops(const sg_adainblk *b, int h);
/* y = block(x); x [N, in, H, W] is left intact; y [N, out, H', W'] must be sized by the caller.
 * Temporaries come from the arena (reset on return). */
sg_status sg_resblk_forward(const sg_resblk *b, const sg_tensor *x, sg_tensor *y, sg_arena *a,
                            sg_workspace *ws, sg_error *err);
/* s [N, style_dim]: one style code per sample. */
sg_status sg_adainblk_forward(const sg_adainblk *b, const sg_tensor *x, const float *s,
                              sg_tensor *y, sg_arena *a, sg_workspace *ws, sg_error *err);

/* ---- generator ------------------------------------------------------------------------------ */
typedef struct {
    int img_size, style_dim, max_conv_dim, w_hpf;
    int dim_in, n_encode, n_decode;
} sg_generator_config;

typedef struct {
    sg_generator_config cfg;
    const float *from_rgb_w, *from_rgb_b; /* [dim_in, 3, 3, 3], [dim_in] */
    sg_resblk encode[SG_MAX_BLOCKS];
    sg_adainblk decode[SG_MAX_BLOCKS];
    const float *to_rgb_norm_w, *to_rgb_norm_b; /* [dim_in] */
    const float *to_rgb_w, *to_rgb_b;           /* [3, dim_in, 1, 1], [3] */
    float hpf[9];                               /* fixed kernel / w_hpf */
    size_t params;
} sg_generator;

/* Binds every tensor the configuration needs; errors name the source and the tensor. */
sg_status sg_generator_init(sg_generator *g, const sg_config *cfg, sg_weights *w, sg_error *err);
/* Arena floats one forward of a batch of n needs: the larger of the encode pass and the state
 * under the decode pass. */
size_t sg_generator_plan(const sg_generator *g, int n);
double sg_generator_flops(const sg_generator *g);
/* y [N, 3, S, S] = G(x [N, 3, S, S], s [N, style_dim], masks) = sg_generator_decode(
 * sg_generator_encode(x), s, masks). masks: NULL (w_hpf = 0) or two tensors [N, 1, Hm, Wm]
 * (masks[0] used at side 32, masks[1] at 64 and 128), required when w_hpf > 0. The arena must
 * hold sg_generator_plan(g, N) floats free. */
sg_status sg_generator_forward(const sg_generator *g, const sg_tensor *x, const float *s,
                               const sg_tensor *masks, sg_tensor *y, sg_arena *a, sg_workspace *ws,
                               sg_error *err);

/* ---- the generator in two halves: the encoder does not read the style (ResBlk, instance
 * norm), only the decoder does (AdaIN), so a photo is encoded once for any number of styles. */
#define SG_GEN_SKIPS 3 /* the high-pass skips, at sides 32, 64 and 128 */

/* What the decoder reads of the encoder, as views into memory the caller owns (the arena after
 * sg_generator_encode, or a copy of it):
 *   h       [N, C, s, s]: the encoder's output (C its last block's channels, s = img_size >>
 *           its downsamplings: 16, or 8 with w_hpf > 0);
 *   skip[k] [N, C_k, 32 << k, 32 << k]: with w_hpf > 0, the input of the encode block at side
 *           32 << k, for the decoder's high-pass path; n = 0 and data NULL where there is none
 *           (every k with w_hpf = 0; k = 2 below img_size 256). */
typedef struct {
    sg_tensor h;
    sg_tensor skip[SG_GEN_SKIPS];
} sg_generator_state;

/* The state's shapes for a batch of n, data NULL. */
void sg_generator_state_shape(const sg_generator *g, int n, sg_generator_state *st);
/* Arena floats sg_generator_encode leaves allocated for a batch of n: the state's tensors. */
size_t sg_generator_state_floats(const sg_generator *g, int n);
/* Arena floats each half needs free for a batch of n (decode: not counting the state). */
size_t sg_generator_encode_plan(const sg_generator *g, int n);
size_t sg_generator_decode_plan(const sg_generator *g, int n);
/* st = the encoder on x [N, 3, S, S]. On success st's tensors lie at the arena's former top,
 * which is raised by sg_generator_state_floats(g, N): the caller resets to its mark when done
 * with them. On an error nothing stays allocated. Needs sg_generator_encode_plan(g, N) free. */
sg_status sg_generator_encode(const sg_generator *g, const sg_tensor *x, sg_generator_state *st,
                              sg_arena *a, sg_workspace *ws, sg_error *err);
/* y [N, 3, S, S] = the decoder on st (shaped as sg_generator_state_shape(g, N); read only)
 * with s [N, style_dim] and masks as sg_generator_forward's. Needs sg_generator_decode_plan(g,
 * N) free; leaves the arena as it found it. */
sg_status sg_generator_decode(const sg_generator *g, const sg_generator_state *st, const float *s,
                              const sg_tensor *masks, sg_tensor *y, sg_arena *a, sg_workspace *ws,
                              sg_error *err);

/* ---- the decoder as a head for several styles at once and a tail per style: the blocks at
 * the low sides (up to SG_GEN_HEAD_SIDE: 512 channels at 16² and 32² for 256²) read most of the
 * decoder's weights and have few pixels, so they run K styles as one batch (net/'s convs
 * share each block of weights over a batch there); the rest, whose activations are large, runs
 * per style. A sample's bytes do not depend on its batch, so the tail after the head gives
 * sg_generator_decode's bytes exactly. */
#define SG_GEN_HEAD_SIDE 32
int sg_generator_head_blocks(const sg_generator *g); /* the decoder blocks in the head */
/* head [K, C, hs, hs]: the shape of the head's output for K styles, data NULL */
void sg_generator_head_shape(const sg_generator *g, int k, sg_tensor *head);
/* Arena floats sg_generator_decode_head needs free for K styles (not counting h and head). */
size_t sg_generator_head_plan(const sg_generator *g, int k);
/* head [K, ...] = the head on h [K, C, s, s] (st.h's shape per sample: one photo repeated, or
 * several) with s [K, style_dim]. Leaves the arena as it found it. */
sg_status sg_generator_decode_head(const sg_generator *g, const sg_tensor *h, const float *s,
                                   sg_tensor *head, sg_arena *a, sg_workspace *ws, sg_error *err);
/* y [N, 3, S, S] = the tail on head [N, ...] (the head's output for these samples; written: the
 * high-pass after the head's last block is added in place) with st, s [N, style_dim] and masks
 * as sg_generator_decode's. Needs sg_generator_decode_plan(g, N) free. */
sg_status sg_generator_decode_tail(const sg_generator *g, const sg_generator_state *st,
                                   sg_tensor *head, const float *s, const sg_tensor *masks,
                                   sg_tensor *y, sg_arena *a, sg_workspace *ws, sg_error *err);

#endif
