/* One request's work, step by step, on the workers. A translation or a style is one step, done
 * exactly as `stargan translate` does it (decode, style, fit, generator, encode), so the same
 * inputs give the same bytes. A grid or a video decodes one source a step and keeps only what the
 * network sees of it (the fitted img_size² square), then computes one style a step (decoding a
 * reference), then one frame or cell a step, the last also encoding: a step holds at most one
 * decoded photo, and each cell is the bytes /v1/translate answers for the same inputs. With
 * paste= the sources are kept whole instead (their squares planned once), and every cell or
 * frame is a copy of its photo with the square's translation put back; a grid's canvas, bounded
 * by --max-pixels, is larger than all of them together. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static sg_status decode(sg_request *r, const uint8_t *d, size_t n, sg_image *img, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st = sg_image_decode(d, n, r->max_pixels, 1, img, err);
    r->stage_ms[SG_STAGE_DECODE] += sg_now_ms() - t0;
    return st;
}

static sg_status region_error(sg_request *r, sg_status st, const sg_error *err);
static sg_status fitted_as(sg_request *r, sg_run *run, const sg_image *img, sg_fit fit,
                           sg_image *out, sg_error *err);

/* photo cut to the square of q (one region), *fit the region's; a failure is the answer's */
static sg_status cut_region(sg_request *r, sg_run *run, sg_image *photo, const sg_region_ask *q,
                            sg_fit *fit, sg_rect *sq, sg_error *err) {
    sg_status st = sg_regions_cut(&r->model->engine, r->detector, run, photo, q, fit, sq,
                                  &r->stage_ms[SG_STAGE_DETECT], err);
    return st ? region_error(r, st, err) : SG_OK;
}

/* Style source c into c->style (decoding a reference; ref_crop= or ref_face= cut it first; its
 * square as the network sees it, fitted or aligned, into *ref_out when asked: a grid's header). A
 * reference's style is the style encoder's on that square (the bytes of sg_engine_style_ref on
 * the photo with the fit), from the cost cache when the same square was seen. */
static sg_status compute_style(sg_request *r, sg_run *run, sg_style_src *c, sg_image *ref_out,
                               sg_error *err) {
    sg_engine *e = &r->model->engine;
    if (c->mode == SG_STYLE_GIVEN) return SG_OK;
    if (!(c->style = calloc((size_t)e->cfg.style_dim, sizeof(float))))
        return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    sg_image ref = {0}, sq_img = {0};
    sg_status st = SG_OK;
    if (c->mode == SG_STYLE_REF) st = decode(r, c->ref, c->ref_len, &ref, err);
    sg_fit fit = r->fit;
    sg_rect sq;
    if (!st && c->mode == SG_STYLE_REF && r->ref_region.mode) /* ref_crop=, ref_face= */
        st = cut_region(r, run, &ref, &r->ref_region, &fit, &sq, err);
    double t0 = sg_now_ms();
    if (!st && c->mode == SG_STYLE_REF) st = fitted_as(r, run, &ref, fit, &sq_img, err);
    sg_image_free(&ref);
    if (!st && c->mode == SG_STYLE_REF)
        st = sg_reuse_style(r, run, &sq_img, c->domain, c->style, err);
    if (!st && c->mode == SG_STYLE_SEED)
        st = sg_engine_style_latent(e, c->seed, c->domain, r->psi, c->style, err);
    r->stage_ms[SG_STAGE_STYLE] += sg_now_ms() - t0;
    if (ref_out && !st) *ref_out = sq_img;
    else sg_image_free(&sq_img);
    return st;
}

/* ---- one step: translate, style ------------------------------------------------------------ */
/* {"model":...,"domain":...,"style":[...]}: %.9g round-trips every float exactly. */
static sg_status style_json(sg_request *r, const float *s, sg_error *err) {
    sg_buf b;
    sg_buf_init(&b, 0);
    cJSON *name = cJSON_CreateString(r->model->name);
    cJSON *dom = cJSON_CreateString(r->model->engine.cfg.domains[r->domain]);
    char *n = cJSON_PrintUnformatted(name), *d = cJSON_PrintUnformatted(dom);
    sg_buf_printf(&b, "{\"model\":%s,\"domain\":%s,\"style\":[", n ? n : "null", d ? d : "null");
    for (int i = 0; i < r->model->engine.cfg.style_dim; i++)
        sg_buf_printf(&b, "%s%.9g", i ? "," : "", s[i]);
    sg_buf_append(&b, "]}", 2);
    cJSON_free(n), cJSON_free(d), cJSON_Delete(name), cJSON_Delete(dom);
    r->out = (uint8_t *)sg_buf_take(&b, &r->out_len);
    return r->out ? SG_OK : sg_error_set(err, SG_ERR_NOMEM, "out of memory");
}

static sg_image_format image_format(const sg_request *r) {
    return r->format == SG_OUT_JPEG ? SG_FORMAT_JPEG : SG_FORMAT_PNG;
}

/* ---- regions: crop=, face=, paste= ---------------------------------------------------------- */
/* A region's failure as its answer: no face (422), a crop outside the photo (400), no detector
 * (501); SG_ERR_ARG is returned for the caller to stop on. */
static sg_status region_error(sg_request *r, sg_status st, const sg_error *err) {
    if (st == SG_ERR_MISSING) sg_http_fail(&r->error, 422, "no_face", "%s", err->msg);
    else if (st == SG_ERR_ARG) sg_http_fail(&r->error, 400, "bad_field", "%s", err->msg);
    else if (st == SG_ERR_UNSUPPORTED) sg_http_fail(&r->error, 501, "no_detector", "%s", err->msg);
    return st;
}

/* A step's engine times into the request's stages (the encoder is the generator's) */
static void add_timing(sg_request *r, const sg_timing *tm) {
    r->stage_ms[SG_STAGE_FACES] += tm->faces_ms;
    r->stage_ms[SG_STAGE_GENERATOR] += tm->generator_ms + tm->encode_ms;
    r->stage_ms[SG_STAGE_PASTE] += tm->paste_ms;
}

/* sg_engine_decode, its time added to tm's (the engine sets its fields) */
static sg_status decode_style(const sg_engine *e, sg_run *run, const sg_encoded *enc,
                              const float *style, sg_image *out, sg_timing *tm, sg_error *err) {
    sg_timing one = {0};
    sg_status st = sg_engine_decode(e, run, enc, style, out, &one, err);
    tm->generator_ms += one.generator_ms;
    return st;
}

/* A copy of the photo for the regions to be put back into */
static sg_status photo_copy(const sg_image *photo, sg_image *canvas, sg_timing *tm, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st = sg_image_crop(photo, (sg_rect){0, 0, photo->w, photo->h}, canvas, err);
    tm->paste_ms += sg_now_ms() - t0;
    return st;
}

/* Square sq of photo (fit: the region's) translated into *out, its encoding from the cost cache
 * when seen before, and put back into canvas (NULL: not): the bytes of
 * sg_engine_translate_region. */
static sg_status region_translate(sg_request *r, sg_run *run, const sg_image *photo, sg_rect sq,
                                  sg_fit fit, sg_image *out, sg_image *canvas, sg_timing *tm,
                                  sg_error *err) {
    const sg_engine *e = &r->model->engine;
    sg_region_view v;
    sg_held_encoded h = {0};
    sg_landmark_store keep = sg_reuse_landmarks(r);
    sg_status st = sg_region_view_make(e, run, photo, sq, fit, &keep, &v, tm, err);
    if (!st) st = sg_reuse_encode(r, run, &v.net, &h, tm, err);
    if (!st) st = decode_style(e, run, sg_held_encoded_get(&h), r->cols[0].style, out, tm, err);
    if (!st && canvas) st = sg_region_put_back(e, &v, out, canvas, tm, err);
    sg_held_encoded_release(r, &h);
    sg_region_view_free(&v);
    return st;
}

/* photo's regions translated: *out the last translation; with paste every one put back into
 * *canvas, a copy of the photo (the bytes of sg_engine_translate_regions) */
static sg_status translate_regions(sg_request *r, sg_run *run, const sg_image *photo, sg_image *out,
                                   sg_image *canvas, sg_timing *tm, sg_error *err) {
    const sg_engine *e = &r->model->engine;
    sg_status st =
        sg_regions_plan(e, r->detector, run, photo, &r->region, r->fit, r->regions,
                        SG_DET_MAX_FACES, &r->n_regions, &r->stage_ms[SG_STAGE_DETECT], err);
    if (st) return region_error(r, st, err);
    if (r->paste) st = photo_copy(photo, canvas, tm, err);
    const sg_fit f = sg_region_fit(e, &r->region, r->fit);
    for (int i = 0; !st && i < r->n_regions; i++) {
        sg_image_free(out);
        st = region_translate(r, run, photo, r->regions[i], f, out, r->paste ? canvas : NULL, tm,
                              err);
    }
    return st;
}

/* The photo's square as the network sees it, encoded (or its encoding from the cost cache) */
static sg_status encode_reused(sg_request *r, sg_run *run, const sg_image *src, sg_held_encoded *h,
                               sg_timing *tm, sg_error *err) {
    sg_image sq = {0};
    double t0 = sg_now_ms();
    sg_status st = fitted_as(r, run, src, r->fit, &sq, err);
    if (r->fit == SG_FIT_ALIGN) tm->faces_ms += sg_now_ms() - t0;
    if (!st) st = sg_reuse_encode(r, run, &sq, h, tm, err);
    sg_image_free(&sq);
    return st;
}

/* encode_reused, then decoded with the style: the bytes of sg_engine_translate with the
 * request's fit. */
static sg_status translate_reused(sg_request *r, sg_run *run, const sg_image *src, sg_image *out,
                                  sg_timing *tm, sg_error *err) {
    sg_held_encoded h = {0};
    sg_status st = encode_reused(r, run, src, &h, tm, err);
    if (!st)
        st = decode_style(&r->model->engine, run, sg_held_encoded_get(&h), r->cols[0].style, out,
                          tm, err);
    sg_held_encoded_release(r, &h);
    return st;
}

/* The answer's bytes: img encoded in the request's format */
static sg_status encode_answer(sg_request *r, const sg_image *img, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st = sg_image_encode(img, image_format(r), r->quality, &r->out, &r->out_len, err);
    r->stage_ms[SG_STAGE_ENCODE] += sg_now_ms() - t0;
    return st;
}

static sg_status translate(sg_request *r, sg_run *run, sg_error *err) {
    sg_image src = {0}, out = {0}, canvas = {0};
    sg_timing tm = {0};
    sg_status st = decode(r, r->src[0], r->src_len[0], &src, err);
    if (!st && (r->region.mode || r->paste))
        st = translate_regions(r, run, &src, &out, &canvas, &tm, err);
    else if (!st) st = translate_reused(r, run, &src, &out, &tm, err);
    add_timing(r, &tm);
    sg_image_free(&src);
    if (!st) st = encode_answer(r, r->paste ? &canvas : &out, err);
    sg_image_free(&out), sg_image_free(&canvas);
    return st;
}

/* /v1/detect: the faces as `stargan detect` prints them */
static sg_status detect(sg_request *r, sg_run *run, sg_error *err) {
    sg_image img = {0};
    sg_face_box faces[SG_DET_MAX_FACES];
    int n = 0;
    sg_status st = decode(r, r->src[0], r->src_len[0], &img, err);
    double t0 = sg_now_ms();
    if (!st)
        st = sg_detect_faces(&r->detector->net, &img, r->min_score, faces, SG_DET_MAX_FACES, &n,
                             &run->arena, &run->ws, err);
    r->stage_ms[SG_STAGE_DETECT] += sg_now_ms() - t0;
    char json[SG_DET_JSON_MAX];
    if (!st) sg_faces_json(faces, n, img.w, img.h, json, sizeof json);
    sg_image_free(&img);
    if (!st && !(r->out = (uint8_t *)strdup(json)))
        st = sg_error_set(err, SG_ERR_NOMEM, "out of memory");
    if (!st) r->out_len = strlen(json);
    return st;
}

static sg_status single_step(sg_request *r, sg_run *run, sg_error *err) {
    if (r->kind == SG_KIND_DETECT) return detect(r, run, err);
    sg_status st = compute_style(r, run, &r->cols[0], NULL, err);
    if (!st && r->kind == SG_KIND_STYLE) st = style_json(r, r->cols[0].style, err);
    if (!st && r->kind == SG_KIND_TRANSLATE) st = translate(r, run, err);
    return st;
}

/* ---- many steps: grid, video --------------------------------------------------------------- */
/* The photo as the network sees it: centre square or whole photo resized (as sg_image_to_tensor
 * does), or aligned. Translating it with SG_FIT_STRETCH (a no-op resize at img_size²) gives the
 * bytes of translating the photo with the request's fit. */
static sg_status fitted_as(sg_request *r, sg_run *run, const sg_image *img, sg_fit fit,
                           sg_image *out, sg_error *err) {
    int s = r->model->engine.cfg.img_size;
    if (fit == SG_FIT_ALIGN) return sg_reuse_align(r, run, img, out, err);
    return sg_image_fit(img, fit, s, out, err);
}

/* Grid layout: with header, the sources are column 0 and (reference grids) the references row 0;
 * cells follow edge to edge, so cell (r, c) is the square at ((c + hx)·S, (r + hy)·S). */
static void grid_origin(const sg_request *r, int *hx, int *hy) {
    *hx = r->header;
    *hy = r->header && r->n_cols && r->cols[0].mode == SG_STYLE_REF;
}

/* img centred in grid cell (gx, gy) (cells are cell_w × cell_h; img_size² without paste) */
static void blit(sg_request *r, const sg_image *img, int gx, int gy) {
    sg_image_blit(&r->canvas, img, gx * r->cell_w + (r->cell_w - img->w) / 2,
                  gy * r->cell_h + (r->cell_h - img->h) / 2);
}

/* A video's frame size: img_size², or with paste the photo's (MP4's sides made even). */
static void frame_size(const sg_request *r, int *w, int *h) {
    const sg_image *p = &r->photos[0];
    *w = *h = r->model->engine.cfg.img_size;
    if (!r->paste) return;
    int even = r->format != SG_OUT_WEBP;
    *w = p->w + (even && p->w % 2), *h = p->h + (even && p->h % 2);
}

/* The grid's cells: img_size², or with paste the largest photo (and a reference header's square) */
static void cell_size(sg_request *r) {
    int s = r->model->engine.cfg.img_size, hx, hy;
    grid_origin(r, &hx, &hy);
    r->cell_w = r->cell_h = s;
    if (!r->paste) return;
    r->cell_w = r->cell_h = hy ? s : 1;
    for (int i = 0; i < r->n_src; i++) {
        if (r->photos[i].w > r->cell_w) r->cell_w = r->photos[i].w;
        if (r->photos[i].h > r->cell_h) r->cell_h = r->photos[i].h;
    }
}

/* The grid's canvas (white where no cell goes), or the video writer (frames come in order). */
static sg_status start_output(sg_request *r, sg_error *err) {
    int w, h, hx, hy;
    if (r->kind == SG_KIND_VIDEO) {
        frame_size(r, &w, &h);
        return sg_video_open(&r->video, NULL,
                             r->format == SG_OUT_WEBP ? SG_VIDEO_WEBP : SG_VIDEO_MP4, w, h, r->fps,
                             err);
    }
    grid_origin(r, &hx, &hy);
    cell_size(r);
    int64_t gw = (int64_t)r->cell_w * (r->n_cols + hx), gh = (int64_t)r->cell_h * (r->n_src + hy);
    if (gw * gh > r->max_pixels || gw > 65535 || gh > 65535) {
        sg_http_fail(&r->error, 413, "too_large",
                     "paste=true makes every cell the whole photo: this grid would be %lldx%lld "
                     "pixels, over this server's --max-pixels of %lld (or 65535 a side); send "
                     "smaller photos or fewer columns, or leave out paste",
                     (long long)gw, (long long)gh, (long long)r->max_pixels);
        return sg_error_set(err, SG_ERR_LIMIT, "grid too large");
    }
    static const uint8_t white[3] = {255, 255, 255};
    sg_status st = sg_image_create(&r->canvas, (int)gw, (int)gh, white, err);
    for (int i = 0; !st && r->paste && hx && i < r->n_src; i++) blit(r, &r->photos[i], 0, i + hy);
    return st;
}

/* paste=: source i's photo kept whole, its square planned (one region, or the fit's own), made
 * ready and encoded once */
static sg_status paste_source(sg_request *r, sg_run *run, int i, sg_image *photo, sg_error *err) {
    const sg_engine *e = &r->model->engine;
    sg_rect sq;
    int n;
    sg_status st = sg_regions_plan(e, r->detector, run, photo, &r->region, r->fit, &sq, 1, &n,
                                   &r->stage_ms[SG_STAGE_DETECT], err);
    if (st) return region_error(r, st, err);
    if (r->region.mode && r->n_regions < SG_DET_MAX_FACES) r->regions[r->n_regions++] = sq;
    sg_timing tm = {0};
    sg_landmark_store keep = sg_reuse_landmarks(r);
    st = sg_region_view_make(e, run, photo, sq, sg_region_fit(e, &r->region, r->fit), &keep,
                             &r->views[i], &tm, err);
    if (!st) st = sg_reuse_encode(r, run, &r->views[i].net, &r->enc[i], &tm, err);
    sg_image_free(&r->views[i].net); /* encoded: the cells need only the map back */
    add_timing(r, &tm);
    r->photos[i] = *photo;
    *photo = (sg_image){0};
    if (st) return st;
    return i == r->n_src - 1 ? start_output(r, err) : SG_OK;
}

/* Source i: decoded, fitted, the decoded photo freed at once (and placed in the header column);
 * with paste kept whole instead, the output started once every photo's size is known. */
static sg_status source_step(sg_request *r, sg_run *run, int i, sg_error *err) {
    int hx, hy;
    grid_origin(r, &hx, &hy);
    sg_status st = i == 0 && !r->paste ? start_output(r, err) : SG_OK;
    sg_image photo = {0};
    if (!st) st = decode(r, r->src[i], r->src_len[i], &photo, err);
    if (!st && r->paste) return paste_source(r, run, i, &photo, err);
    sg_fit fit = r->fit;
    sg_rect sq;
    if (!st && r->region.mode) /* crop= or face=: the square, then the fit */
        st = cut_region(r, run, &photo, &r->region, &fit, &sq, err);
    if (!st && r->region.mode && r->n_regions < SG_DET_MAX_FACES) r->regions[r->n_regions++] = sq;
    double t0 = sg_now_ms();
    if (!st) st = fitted_as(r, run, &photo, fit, &r->fitted[i], err);
    r->stage_ms[SG_STAGE_FACES] += fit == SG_FIT_ALIGN ? sg_now_ms() - t0 : 0;
    sg_image_free(&photo);
    if (!st && r->kind == SG_KIND_GRID && hx) blit(r, &r->fitted[i], 0, i + hy);
    /* encoded once here, decoded per cell or frame */
    sg_timing tm = {0};
    if (!st) st = sg_reuse_encode(r, run, &r->fitted[i], &r->enc[i], &tm, err);
    add_timing(r, &tm);
    sg_image_free(&r->fitted[i]);
    return st;
}

static sg_status column_step(sg_request *r, sg_run *run, int k, sg_error *err) {
    int hx, hy;
    grid_origin(r, &hx, &hy);
    sg_image sq = {0};
    sg_status st = compute_style(r, run, &r->cols[k], &sq, err);
    if (!st && r->kind == SG_KIND_GRID && hy) blit(r, &sq, k + hx, 0);
    sg_image_free(&sq);
    return st;
}

/* The style of frame f: waypoints evenly spaced over the frames, linear in between. */
static void frame_style(const sg_request *r, int f, int dim, float *s) {
    double t = (double)f * (r->n_cols - 1) / (r->frames - 1);
    int k = (int)floor(t);
    if (k > r->n_cols - 2) k = r->n_cols - 2;
    float u = (float)(t - k);
    const float *a = r->cols[k].style, *b = r->cols[k + 1].style;
    for (int i = 0; i < dim; i++) s[i] = (1.0f - u) * a[i] + u * b[i];
}

/* Units u and after of the same source row, as many as a batch holds: a video's frames (one
 * source) or a grid row's cells */
static int ahead_units(const sg_request *r, int u) {
    const int end = r->kind == SG_KIND_VIDEO ? r->frames : (u / r->n_cols + 1) * r->n_cols;
    return end - u < SG_ENGINE_MAX_STYLES ? end - u : SG_ENGINE_MAX_STYLES;
}

/* The style of unit u into s [style_dim] */
static void unit_style(const sg_request *r, int u, int dim, float *s) {
    if (r->kind == SG_KIND_VIDEO) frame_style(r, u, dim, s);
    else memcpy(s, r->cols[u % r->n_cols].style, (size_t)dim * sizeof *s);
}

static void ahead_clear(sg_request *r) {
    for (int i = 0; i < r->ahead_n; i++) sg_image_free(&r->ahead[i]);
    r->ahead_n = 0;
}

/* *sq = unit u's decoded square, taken from the batch, which is decoded first when it does not
 * hold u: the decoder's head runs the row's next styles at once (the same bytes as one at a
 * time), so a batch's first unit carries its work and the rest take theirs from it. */
static sg_status unit_square(sg_request *r, sg_run *run, int u, sg_image *sq, sg_timing *tm,
                             sg_error *err) {
    if (u < r->ahead_from || u >= r->ahead_from + r->ahead_n) {
        const sg_engine *e = &r->model->engine;
        const int dim = e->cfg.style_dim, k = ahead_units(r, u);
        const int row = r->kind == SG_KIND_VIDEO ? 0 : u / r->n_cols;
        ahead_clear(r);
        float *s = malloc((size_t)k * dim * sizeof *s);
        if (!s) return sg_error_set(err, SG_ERR_NOMEM, "out of memory");
        for (int i = 0; i < k; i++) unit_style(r, u + i, dim, s + (size_t)i * dim);
        sg_timing one = {0}; /* the engine sets its field: added up here */
        sg_status st = sg_engine_decode_styles(e, run, sg_held_encoded_get(&r->enc[row]), s, k,
                                               r->ahead, &one, err);
        free(s);
        tm->generator_ms += one.generator_ms;
        if (st) return st;
        r->ahead_from = u, r->ahead_n = k;
    }
    *sq = r->ahead[u - r->ahead_from];
    r->ahead[u - r->ahead_from] = (sg_image){0};
    return SG_OK;
}

/* Unit u (source row in its style): its fitted square translated, or with paste the whole photo
 * with its square translated and put back (the bytes of /v1/translate with paste=true). */
static sg_status cell(sg_request *r, sg_run *run, int u, int row, sg_image *out, sg_timing *tm,
                      sg_error *err) {
    sg_image sq = {0};
    sg_status st = unit_square(r, run, u, &sq, tm, err);
    if (st || !r->paste) {
        *out = sq;
        return st;
    }
    st =
        sg_region_paste_into(&r->model->engine, &r->photos[row], &r->views[row], &sq, out, tm, err);
    sg_image_free(&sq);
    return st;
}

/* A frame to the video: a pasted photo with an odd side is extended to MP4's even one */
static sg_status add_frame(sg_request *r, const sg_image *img, sg_error *err) {
    int w, h;
    frame_size(r, &w, &h);
    if (img->w == w && img->h == h) return sg_video_add_frame(r->video, img, err);
    sg_image big = {0};
    sg_status st = sg_image_extend(img, w, h, &big, err);
    if (!st) st = sg_video_add_frame(r->video, &big, err);
    sg_image_free(&big);
    return st;
}

static sg_status unit_step(sg_request *r, sg_run *run, int u, sg_error *err) {
    int row = 0, col = 0, hx, hy;
    if (r->kind != SG_KIND_VIDEO) row = u / r->n_cols, col = u % r->n_cols;
    sg_image out = {0};
    sg_timing tm = {0};
    sg_status st = cell(r, run, u, row, &out, &tm, err);
    add_timing(r, &tm);
    grid_origin(r, &hx, &hy);
    double t0 = sg_now_ms();
    if (!st && r->kind == SG_KIND_VIDEO) st = add_frame(r, &out, err);
    r->stage_ms[SG_STAGE_ENCODE] += sg_now_ms() - t0;
    if (!st && r->kind == SG_KIND_GRID) blit(r, &out, col + hx, row + hy);
    sg_image_free(&out);
    return st;
}

static sg_status encode(sg_request *r, sg_error *err) {
    double t0 = sg_now_ms();
    sg_status st;
    if (r->kind == SG_KIND_GRID)
        st = sg_image_encode(&r->canvas, image_format(r), r->quality, &r->out, &r->out_len, err);
    else st = sg_video_finish(r->video, &r->out, &r->out_len, err);
    r->stage_ms[SG_STAGE_ENCODE] += sg_now_ms() - t0;
    return st;
}

static sg_status multi_step(sg_request *r, sg_run *run, int k, sg_error *err) {
    if (k < r->n_src) return source_step(r, run, k, err);
    k -= r->n_src;
    if (k < r->n_cols) return column_step(r, run, k, err);
    sg_status st = unit_step(r, run, k - r->n_cols, err);
    if (!st && r->step == r->n_steps) st = encode(r, err);
    return st;
}

/* A step's failure into the answer: no bytes, its error (unless the step set one) */
static void step_failed(sg_request *r, const sg_error *err) {
    free(r->out);
    r->out = NULL;
    r->out_len = 0;
    if (!r->error.status) sg_http_from_status(&r->error, err); /* else set by its step */
}

int sg_request_step(sg_request *r, sg_run *run) {
    sg_error err = {0};
    int k = r->step++;
    sg_status st =
        r->kind == SG_KIND_TRANSLATE || r->kind == SG_KIND_STYLE || r->kind == SG_KIND_DETECT
            ? single_step(r, run, &err)
            : multi_step(r, run, k, &err);
    if (st) {
        step_failed(r, &err);
        return 0;
    }
    return r->step < r->n_steps;
}

/* ---- a batch of plain translations --------------------------------------------------------- */
int sg_request_batchable(const sg_request *r) {
    return r->kind == SG_KIND_TRANSLATE && !r->region.mode && !r->paste && r->step == 0;
}

/* r's style and its photo encoded (translate's first half); a failure is the answer */
static int batch_prepare(sg_request *r, sg_run *run, sg_held_encoded *h) {
    sg_error err = {0};
    sg_image src = {0};
    sg_timing tm = {0};
    r->step++;
    sg_status st = compute_style(r, run, &r->cols[0], NULL, &err);
    if (!st) st = decode(r, r->src[0], r->src_len[0], &src, &err);
    if (!st) st = encode_reused(r, run, &src, h, &tm, &err);
    add_timing(r, &tm);
    sg_image_free(&src);
    if (st) step_failed(r, &err), sg_held_encoded_release(r, h);
    return !st;
}

void sg_request_step_batch(sg_request **rs, int n, sg_run *run) {
    SG_ASSERT(n >= 1 && n <= SG_ENGINE_MAX_STYLES);
    const sg_engine *e = &rs[0]->model->engine;
    const int dim = e->cfg.style_dim;
    sg_held_encoded h[SG_ENGINE_MAX_STYLES] = {{0}};
    const sg_encoded *enc[SG_ENGINE_MAX_STYLES];
    sg_request *ok[SG_ENGINE_MAX_STYLES];
    sg_image out[SG_ENGINE_MAX_STYLES] = {{0}};
    float *s = malloc((size_t)n * dim * sizeof *s);
    int m = 0;
    for (int i = 0; i < n; i++) {
        SG_ASSERT(sg_request_batchable(rs[i]) && rs[i]->model == rs[0]->model);
        if (!s) { /* no memory for the styles: each on its own */
            sg_request_step(rs[i], run);
            continue;
        }
        if (!batch_prepare(rs[i], run, &h[m])) continue;
        enc[m] = sg_held_encoded_get(&h[m]);
        memcpy(s + (size_t)m * dim, rs[i]->cols[0].style, (size_t)dim * sizeof(float));
        ok[m++] = rs[i];
    }
    sg_error err = {0}; /* the batch's: not an answer's */
    sg_timing tm = {0};
    const sg_status dec = m ? sg_engine_decode_many(e, run, enc, s, m, out, &tm, &err) : SG_OK;
    for (int i = 0; i < m; i++) {
        ok[i]->stage_ms[SG_STAGE_GENERATOR] += tm.generator_ms / m; /* each its share */
        sg_error one = {0};
        sg_timing own = {0};
        /* the batch failed (its memory): each decoded alone, as without a batch */
        sg_status st =
            dec ? decode_style(e, run, enc[i], s + (size_t)i * dim, &out[i], &own, &one) : SG_OK;
        ok[i]->stage_ms[SG_STAGE_GENERATOR] += own.generator_ms;
        if (!st) st = encode_answer(ok[i], &out[i], &one);
        if (st) step_failed(ok[i], &one);
        sg_image_free(&out[i]);
        sg_held_encoded_release(ok[i], &h[i]);
    }
    free(s);
}

/* paste= on a grid or video: the answer's pixels beyond the photos' (every cell or frame a copy
 * of its photo, then encoded), counted as decoding them is */
int64_t sg_request_largest_source(const sg_request *r, int64_t unknown) {
    int64_t big = 0;
    for (int i = 0; i < r->n_src; i++) {
        int64_t px = r->src_pixels[i] ? r->src_pixels[i] : unknown;
        big = px > big ? px : big;
    }
    return big;
}

static int64_t paste_pixels(const sg_request *r) {
    if (!r->paste || r->kind == SG_KIND_TRANSLATE) return 0;
    /* a header that said nothing: the limit */
    int64_t big = sg_request_largest_source(r, r->max_pixels);
    return big * (r->kind == SG_KIND_VIDEO ? r->frames : (int64_t)r->n_src * r->n_cols);
}

int64_t sg_request_work(const sg_request *r) {
    if (!r->model) return 0;
    int64_t s = r->model->engine.cfg.img_size, runs = 0;
    if (r->kind == SG_KIND_TRANSLATE) runs = 1;
    if (r->kind == SG_KIND_GRID) runs = (int64_t)r->n_src * r->n_cols;
    if (r->kind == SG_KIND_VIDEO) runs = r->frames;
    /* the detector: about 6 GFLOP at 512², a fifteenth of a 256² generator run; counted as a
     * 128² run */
    if (r->kind == SG_KIND_DETECT) s = 128, runs = 1;
    for (int i = 0; i < r->n_cols; i++) runs += r->cols[i].mode == SG_STYLE_REF; /* encoder */
    /* face=: the detector on every source (and ref_face= on the reference), each as a 128² run;
     * paste=: the whole photo encoded again, as much as decoding it */
    int64_t detects =
        (r->region.mode == SG_REGION_FACE ? r->n_src : 0) + (r->ref_region.mode == SG_REGION_FACE);
    /* a decoded pixel costs about 1/128 of a generator run's output pixel (bench/README,
     * "Decoding in the work budget") */
    return runs * s * s + detects * 128 * 128 + r->decode_pixels / 128 * (r->paste ? 2 : 1) +
           paste_pixels(r) / 128 * 2;
}

void sg_request_free(sg_request *r) {
    for (int i = 0; i < r->n_cols; i++) free(r->cols[i].style), r->cols[i].style = NULL;
    for (int i = 0; i < r->n_src; i++) {
        sg_image_free(&r->fitted[i]), sg_image_free(&r->photos[i]);
        sg_held_encoded_release(r, &r->enc[i]);
    }
    ahead_clear(r);
    sg_image_free(&r->canvas);
    sg_video_free(r->video);
    r->video = NULL;
    free(r->out);
    r->out = NULL;
}

const char *sg_request_content_type(const sg_request *r) {
    switch (r->format) {
    case SG_OUT_JPEG: return "image/jpeg";
    case SG_OUT_MP4: return "video/mp4";
    case SG_OUT_WEBP: return "image/webp";
    case SG_OUT_JSON: return "application/json";
    default: return "image/png";
    }
}

/* ---- answer headers ------------------------------------------------------------------------ */
static void pair(sg_buf *b, const char *name, const char *value) {
    sg_buf_append(b, name, strlen(name) + 1);
    sg_buf_append(b, value, strlen(value) + 1);
}

/* X-Seed: the seeds used, comma-separated, each once, in order. */
static void seeds_header(const sg_request *r, sg_buf *out) {
    sg_buf v;
    sg_buf_init(&v, 0);
    for (int i = 0; i < r->n_cols; i++) {
        const sg_style_src *s = &r->cols[i];
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= r->cols[j].mode == SG_STYLE_SEED && r->cols[j].seed == s->seed;
        if (s->mode == SG_STYLE_SEED && !seen)
            sg_buf_printf(&v, "%s%llu", v.len ? "," : "", (unsigned long long)s->seed);
    }
    if (v.len) pair(out, "X-Seed", sg_buf_str(&v));
    sg_buf_free(&v);
}

/* X-Grid-Columns: "domain;seed=N" or "domain;reference=K" per column; X-Grid: "rows=R cols=C
 * cell=S x0=X y0=Y": cell (r, c) is the S×S square at (x0 + c·S, y0 + r·S); with paste
 * "cell=WxH": W×H cells at (x0 + c·W, y0 + r·H), each photo centred in its cell. */
static void grid_headers(const sg_request *r, sg_buf *out) {
    const sg_config *c = &r->model->engine.cfg;
    sg_buf v;
    sg_buf_init(&v, 0);
    for (int i = 0; i < r->n_cols; i++) {
        const sg_style_src *s = &r->cols[i];
        if (s->mode == SG_STYLE_SEED)
            sg_buf_printf(&v, "%s%s;seed=%llu", i ? ", " : "", c->domains[s->domain],
                          (unsigned long long)s->seed);
        else sg_buf_printf(&v, "%s%s;reference=%d", i ? ", " : "", c->domains[s->domain], i);
    }
    pair(out, "X-Grid-Columns", sg_buf_str(&v));
    sg_buf_free(&v);
    int hx, hy;
    char g[128];
    grid_origin(r, &hx, &hy);
    if (r->paste)
        snprintf(g, sizeof g, "rows=%d cols=%d cell=%dx%d x0=%d y0=%d", r->n_src, r->n_cols,
                 r->cell_w, r->cell_h, hx * r->cell_w, hy * r->cell_h);
    else
        snprintf(g, sizeof g, "rows=%d cols=%d cell=%d x0=%d y0=%d", r->n_src, r->n_cols,
                 c->img_size, hx * c->img_size, hy * c->img_size);
    pair(out, "X-Grid", g);
}

sg_status sg_request_headers(const sg_request *r, double total_ms, sg_buf *out) {
    /* every stage in order; the detector's and paste's only where a request used them */
    char timing[512], n[24];
    size_t k = 0;
    for (int i = 0; i < SG_STAGE_COUNT; i++)
        if ((i != SG_STAGE_DETECT || r->kind == SG_KIND_DETECT || r->stage_ms[i] > 0) &&
            (i != SG_STAGE_PASTE || r->paste || r->region.mode))
            k += (size_t)snprintf(timing + k, sizeof timing - k, "%s;dur=%.1f, ", sg_stage_names[i],
                                  r->stage_ms[i]);
    /* the cost cache's lookups, by kind, where a request made any */
    for (int i = 0; i < SG_CACHE_KINDS; i++)
        if (r->cache_hits[i] + r->cache_misses[i])
            k += (size_t)snprintf(timing + k, sizeof timing - k,
                                  "cache-%s;desc=\"hit=%d miss=%d\", ", sg_cache_kind_names[i],
                                  r->cache_hits[i], r->cache_misses[i]);
    snprintf(timing + k, sizeof timing - k, "total;dur=%.1f", total_ms);
    pair(out, "Server-Timing", timing);
    pair(out, "X-Model", r->model->name);
    if (r->n_regions) { /* the squares translated, in the photo's pixels */
        sg_buf f;
        sg_buf_init(&f, 0);
        for (int i = 0; i < r->n_regions; i++)
            sg_buf_printf(&f, "%s[%d,%d,%d,%d]", i ? "," : "[", r->regions[i].x, r->regions[i].y,
                          r->regions[i].w, r->regions[i].h);
        sg_buf_append(&f, "]", 1);
        if (f.data) pair(out, "X-Faces", (const char *)f.data);
        sg_buf_free(&f);
    }
    seeds_header(r, out);
    if (r->kind == SG_KIND_GRID) grid_headers(r, out);
    if (r->kind == SG_KIND_VIDEO) {
        snprintf(n, sizeof n, "%d", r->frames);
        pair(out, "X-Frames", n);
        snprintf(n, sizeof n, "%d", r->fps);
        pair(out, "X-Fps", n);
    }
    return out->data ? SG_OK : SG_ERR_NOMEM;
}
