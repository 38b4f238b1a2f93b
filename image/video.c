/* image/video: H.264 MP4 through libx264 and the MP4 writer below, animated WebP through
 * libwebp's animation encoder (libwebpmux). See image.h. No FFmpeg: libx264 and libwebp are what
 * the two formats need, and FFmpeg's shared libraries brought most of the container image (their
 * dependency tree: every codec, font and hardware API Debian builds them with; README "Docker"). */
#include "image.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <x264.h>

typedef struct {
    uint32_t size; /* bytes in mdat, decode order */
    int64_t pts;   /* presentation index (frame number) */
    int key;
} sample;

struct sg_video {
    sg_video_format fmt;
    int w, h, fps, frames, finished;
    char *path, *part; /* the file asked for, and the one written until finish renames it */
    uint8_t *buf;      /* the finished file, in memory either way; a path gets it at finish */
    size_t len, cap;
    /* MP4 */
    x264_t *enc;
    x264_picture_t pic; /* the I420 frame handed to x264 */
    int pic_alloc;
    uint8_t *sps, *pps; /* the parameter sets (avcC), without their length prefixes */
    int sps_len, pps_len;
    uint8_t *mdat; /* the samples, length-prefixed NAL units, decode order */
    size_t mdat_len, mdat_cap;
    sample *samples;
    size_t nsamples, samples_cap;
    /* WebP */
    WebPAnimEncoder *anim;
    WebPConfig config;
};

int sg_video_format_parse(const char *name) {
    if (!name) return -1;
    if (!strcasecmp(name, "mp4")) return SG_VIDEO_MP4;
    if (!strcasecmp(name, "webp")) return SG_VIDEO_WEBP;
    return -1;
}

const char *sg_video_extension(sg_video_format fmt) {
    return fmt == SG_VIDEO_WEBP ? "webp" : "mp4";
}

const char *sg_video_mime(sg_video_format fmt) {
    return fmt == SG_VIDEO_WEBP ? "image/webp" : "video/mp4";
}

/* ---- a growing byte buffer ------------------------------------------------------------------ */

static int grow(uint8_t **b, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1 << 16;
    while (c < need) c *= 2;
    uint8_t *n = realloc(*b, c);
    if (!n) return -1;
    *b = n, *cap = c;
    return 0;
}

/* ---- MP4: H.264 by libx264 ------------------------------------------------------------------ */

static sg_status mp4_open(sg_video *v, sg_error *err) {
    x264_param_t p;
    if (x264_param_default_preset(&p, "medium", NULL) < 0)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: libx264 has no preset medium");
    p.i_log_level = X264_LOG_ERROR; /* errors still reach stderr (the daemon log) */
    /* One encoder thread: the generator's pool owns the cores, and frames are small beside it. */
    p.i_threads = 1, p.i_lookahead_threads = 1, p.b_sliced_threads = 0;
    p.i_width = v->w, p.i_height = v->h, p.i_csp = X264_CSP_I420;
    p.i_fps_num = (uint32_t)v->fps, p.i_fps_den = 1;
    p.i_timebase_num = 1, p.i_timebase_den = (uint32_t)v->fps, p.b_vfr_input = 0;
    p.i_keyint_max = 2 * v->fps; /* a key frame every 2 s: seeking stays quick */
    p.i_bframe = 2;
    p.rc.i_rc_method = X264_RC_CRF, p.rc.f_rf_constant = 20;
    /* What mp4_add converts to: BT.601 matrix, limited range; sRGB primaries and curve. */
    p.vui.i_colorprim = 1, p.vui.i_transfer = 13, p.vui.i_colmatrix = 6, p.vui.b_fullrange = 0;
    p.b_annexb = 0, p.b_repeat_headers = 0; /* MP4: length-prefixed NALs, SPS/PPS in avcC */
    if (x264_param_apply_profile(&p, "high") < 0 || !(v->enc = x264_encoder_open(&p)))
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: libx264 refused %d×%d at %d fps", v->w,
                            v->h, v->fps);
    if (x264_picture_alloc(&v->pic, X264_CSP_I420, v->w, v->h) < 0)
        return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    v->pic_alloc = 1;
    x264_nal_t *nal;
    int n;
    if (x264_encoder_headers(v->enc, &nal, &n) < 0)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: libx264 wrote no headers");
    for (int i = 0; i < n; i++) {
        uint8_t **dst = nal[i].i_type == NAL_SPS   ? &v->sps
                        : nal[i].i_type == NAL_PPS ? &v->pps
                                                   : NULL;
        if (!dst || *dst || nal[i].i_payload <= 4) continue;
        const int len = nal[i].i_payload - 4; /* past the 4-byte length */
        if (!(*dst = malloc((size_t)len)))
            return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
        memcpy(*dst, nal[i].p_payload + 4, (size_t)len);
        *(nal[i].i_type == NAL_SPS ? &v->sps_len : &v->pps_len) = len;
    }
    if (!v->sps || !v->pps || v->sps_len < 4)
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: libx264 wrote no SPS/PPS");
    return SG_OK;
}

/* Encodes pic (NULL: flushes one delayed frame) and keeps the sample it returns, if any. */
static sg_status mp4_encode(sg_video *v, x264_picture_t *pic, sg_error *err) {
    x264_nal_t *nal;
    int n;
    x264_picture_t out;
    const int bytes = x264_encoder_encode(v->enc, &nal, &n, pic, &out);
    if (bytes < 0) return sg_error_set(err, SG_ERR_IO, "video: H.264 encoding failed");
    if (bytes == 0) return SG_OK;
    if (v->mdat_len + (size_t)bytes > 0xFFFFFFF0u - 4096)
        return sg_error_set(err, SG_ERR_LIMIT, "video: over 4 GiB of MP4");
    if (grow(&v->mdat, &v->mdat_cap, v->mdat_len + (size_t)bytes))
        return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    if (v->nsamples == v->samples_cap) {
        const size_t c = v->samples_cap ? 2 * v->samples_cap : 256;
        sample *t = realloc(v->samples, c * sizeof *t);
        if (!t) return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
        v->samples = t, v->samples_cap = c;
    }
    memcpy(v->mdat + v->mdat_len, nal[0].p_payload, (size_t)bytes); /* the NALs lie in sequence */
    v->mdat_len += (size_t)bytes;
    v->samples[v->nsamples++] = (sample){(uint32_t)bytes, out.i_pts, out.b_keyframe != 0};
    return SG_OK;
}

/* RGB → YUV 4:2:0, BT.601 matrix, limited range (Y 16..235, Cb/Cr 16..240), 8-bit fixed point
 * (the usual integer form of the matrix); chroma from the mean of each 2×2 block's RGB. */
static sg_status mp4_add(sg_video *v, const sg_image *rgb, sg_error *err) {
    const int w = v->w, h = v->h;
    uint8_t *py = v->pic.img.plane[0], *pu = v->pic.img.plane[1], *pv = v->pic.img.plane[2];
    const int sy = v->pic.img.i_stride[0], su = v->pic.img.i_stride[1], sv = v->pic.img.i_stride[2];
    for (int y = 0; y < h; y++) {
        const uint8_t *s = rgb->pixels + (size_t)y * w * 3;
        for (int x = 0; x < w; x++, s += 3)
            py[(size_t)y * sy + x] =
                (uint8_t)(((66 * s[0] + 129 * s[1] + 25 * s[2] + 128) >> 8) + 16);
    }
    for (int y = 0; y < h / 2; y++)
        for (int x = 0; x < w / 2; x++) {
            const uint8_t *a = rgb->pixels + ((size_t)2 * y * w + 2 * x) * 3,
                          *b = a + (size_t)w * 3;
            const int r = a[0] + a[3] + b[0] + b[3], g = a[1] + a[4] + b[1] + b[4];
            const int bl =
                a[2] + a[5] + b[2] + b[5]; /* sums of 4: the shifts below take 2 more bits */
            pu[(size_t)y * su + x] = (uint8_t)(((-38 * r - 74 * g + 112 * bl + 512) >> 10) + 128);
            pv[(size_t)y * sv + x] = (uint8_t)(((112 * r - 94 * g - 18 * bl + 512) >> 10) + 128);
        }
    v->pic.i_pts = v->frames;
    v->pic.i_type = X264_TYPE_AUTO;
    return mp4_encode(v, &v->pic, err);
}

/* ---- the MP4 file: [ftyp][moov][mdat], the index first ("faststart": plays while
 * downloading). One track, one chunk holding every sample; sample k lasts 1/fps s (mdhd's
 * timescale is fps); B-frames: decode order k, presentation at pts, ctts the difference plus
 * `shift` (so none is negative) and an edit list starting the presentation at shift. ---- */

typedef struct {
    uint8_t *b;
    size_t len, cap;
    int failed;
} wbuf;

static void put(wbuf *o, const void *p, size_t n) {
    if (o->failed || grow(&o->b, &o->cap, o->len + n)) {
        o->failed = 1;
        return;
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}
static void u8(wbuf *o, uint32_t x) {
    const uint8_t c = (uint8_t)x;
    put(o, &c, 1);
}
static void u16(wbuf *o, uint32_t x) { u8(o, x >> 8), u8(o, x); }
static void u32(wbuf *o, uint32_t x) { u16(o, x >> 16), u16(o, x & 0xFFFF); }
static void zeros(wbuf *o, int n) {
    for (int i = 0; i < n; i++) u8(o, 0);
}
static size_t open_box(wbuf *o, const char *type) {
    const size_t at = o->len;
    u32(o, 0), put(o, type, 4);
    return at;
}
static size_t open_full(wbuf *o, const char *type, int version, uint32_t flags) {
    const size_t at = open_box(o, type);
    u32(o, (uint32_t)version << 24 | flags);
    return at;
}
static void close_box(wbuf *o, size_t at) {
    if (o->failed) return;
    const uint32_t n = (uint32_t)(o->len - at);
    o->b[at] = (uint8_t)(n >> 24), o->b[at + 1] = (uint8_t)(n >> 16);
    o->b[at + 2] = (uint8_t)(n >> 8), o->b[at + 3] = (uint8_t)n;
}
static void matrix(wbuf *o) { /* unity */
    static const uint32_t m[9] = {0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000};
    for (int i = 0; i < 9; i++) u32(o, m[i]);
}

static void write_stbl(wbuf *o, const sg_video *v, int64_t shift, size_t *stco_at) {
    const size_t stbl = open_box(o, "stbl");
    size_t b = open_full(o, "stsd", 0, 0);
    u32(o, 1);
    const size_t avc1 = open_box(o, "avc1");
    zeros(o, 6), u16(o, 1); /* reserved, data_reference_index */
    zeros(o, 16);           /* pre_defined, reserved */
    u16(o, (uint32_t)v->w), u16(o, (uint32_t)v->h);
    u32(o, 0x480000), u32(o, 0x480000), u32(o, 0), u16(o, 1); /* 72 dpi, 1 frame a sample */
    zeros(o, 32);                                             /* compressor name */
    u16(o, 0x18), u16(o, 0xFFFF);                             /* depth 24, pre_defined -1 */
    const size_t avcc = open_box(o, "avcC");
    u8(o, 1), u8(o, v->sps[1]), u8(o, v->sps[2]), u8(o, v->sps[3]); /* profile, compat, level */
    u8(o, 0xFF), u8(o, 0xE1); /* 4-byte NAL lengths; one SPS */
    u16(o, (uint32_t)v->sps_len), put(o, v->sps, (size_t)v->sps_len);
    u8(o, 1), u16(o, (uint32_t)v->pps_len), put(o, v->pps, (size_t)v->pps_len);
    close_box(o, avcc);
    const size_t colr = open_box(o, "colr"); /* as the VUI says: BT.709 primaries, sRGB curve, */
    put(o, "nclx", 4), u16(o, 1), u16(o, 13), u16(o, 6), u8(o, 0); /* BT.601, limited range */
    close_box(o, colr);
    close_box(o, avc1);
    close_box(o, b);
    b = open_full(o, "stts", 0, 0);
    u32(o, 1), u32(o, (uint32_t)v->nsamples), u32(o, 1);
    close_box(o, b);
    b = open_full(o, "ctts", 0, 0);
    const size_t count_at = o->len;
    uint32_t runs = 0;
    u32(o, 0);
    for (size_t k = 0; k < v->nsamples;) {
        const int64_t off = v->samples[k].pts - (int64_t)k + shift;
        size_t e = k + 1;
        while (e < v->nsamples && v->samples[e].pts - (int64_t)e + shift == off) e++;
        u32(o, (uint32_t)(e - k)), u32(o, (uint32_t)off), runs++;
        k = e;
    }
    if (!o->failed)
        o->b[count_at] = (uint8_t)(runs >> 24), o->b[count_at + 1] = (uint8_t)(runs >> 16),
        o->b[count_at + 2] = (uint8_t)(runs >> 8), o->b[count_at + 3] = (uint8_t)runs;
    close_box(o, b);
    uint32_t keys = 0;
    for (size_t k = 0; k < v->nsamples; k++) keys += (uint32_t)v->samples[k].key;
    if (keys < v->nsamples) { /* without stss every sample is a sync sample */
        b = open_full(o, "stss", 0, 0);
        u32(o, keys);
        for (size_t k = 0; k < v->nsamples; k++)
            if (v->samples[k].key) u32(o, (uint32_t)k + 1);
        close_box(o, b);
    }
    b = open_full(o, "stsc", 0, 0);
    u32(o, 1), u32(o, 1), u32(o, (uint32_t)v->nsamples), u32(o, 1);
    close_box(o, b);
    b = open_full(o, "stsz", 0, 0);
    u32(o, 0), u32(o, (uint32_t)v->nsamples);
    for (size_t k = 0; k < v->nsamples; k++) u32(o, v->samples[k].size);
    close_box(o, b);
    b = open_full(o, "stco", 0, 0);
    u32(o, 1);
    *stco_at = o->len;
    u32(o, 0); /* the chunk's offset: set once moov's size is known */
    close_box(o, b);
    close_box(o, stbl);
}

static sg_status mp4_finish(sg_video *v, sg_error *err) {
    while (x264_encoder_delayed_frames(v->enc) > 0) {
        const size_t before = v->nsamples;
        sg_status st = mp4_encode(v, NULL, err);
        if (st) return st;
        if (v->nsamples == before) break;
    }
    if (v->nsamples != (size_t)v->frames)
        return sg_error_set(err, SG_ERR_IO, "video: libx264 returned %zu of %d frames", v->nsamples,
                            v->frames);
    int64_t shift = 0; /* presentation never before decoding */
    for (size_t k = 0; k < v->nsamples; k++)
        if ((int64_t)k - v->samples[k].pts > shift) shift = (int64_t)k - v->samples[k].pts;
    const uint32_t ms = (uint32_t)(((uint64_t)v->frames * 1000 + (uint64_t)v->fps / 2) / v->fps);
    wbuf o = {0};
    size_t b = open_box(&o, "ftyp");
    put(&o, "isom", 4), u32(&o, 0x200), put(&o, "isomiso2avc1mp41", 16);
    close_box(&o, b);
    const size_t moov = open_box(&o, "moov");
    b = open_full(&o, "mvhd", 0, 0);
    u32(&o, 0), u32(&o, 0), u32(&o, 1000), u32(&o, ms); /* times, timescale (ms), duration */
    u32(&o, 0x10000), u16(&o, 0x100), zeros(&o, 10), matrix(&o), zeros(&o, 24), u32(&o, 2);
    close_box(&o, b);
    const size_t trak = open_box(&o, "trak");
    b = open_full(&o, "tkhd", 0, 3); /* enabled, in the movie */
    u32(&o, 0), u32(&o, 0), u32(&o, 1), u32(&o, 0), u32(&o, ms), zeros(&o, 8);
    u16(&o, 0), u16(&o, 0), u16(&o, 0), u16(&o, 0), matrix(&o);
    u32(&o, (uint32_t)v->w << 16), u32(&o, (uint32_t)v->h << 16);
    close_box(&o, b);
    const size_t edts = open_box(&o, "edts");
    b = open_full(&o, "elst", 0, 0);
    u32(&o, 1), u32(&o, ms), u32(&o, (uint32_t)shift), u16(&o, 1), u16(&o, 0);
    close_box(&o, b);
    close_box(&o, edts);
    const size_t mdia = open_box(&o, "mdia");
    b = open_full(&o, "mdhd", 0, 0);
    u32(&o, 0), u32(&o, 0), u32(&o, (uint32_t)v->fps), u32(&o, (uint32_t)v->frames);
    u16(&o, 0x55C4), u16(&o, 0); /* language "und" */
    close_box(&o, b);
    b = open_full(&o, "hdlr", 0, 0);
    u32(&o, 0), put(&o, "vide", 4), zeros(&o, 12), put(&o, "VideoHandler", 13);
    close_box(&o, b);
    const size_t minf = open_box(&o, "minf");
    b = open_full(&o, "vmhd", 0, 1);
    zeros(&o, 8);
    close_box(&o, b);
    const size_t dinf = open_box(&o, "dinf");
    b = open_full(&o, "dref", 0, 0);
    u32(&o, 1);
    const size_t url = open_full(&o, "url ", 0, 1); /* the data is in this file */
    close_box(&o, url);
    close_box(&o, b);
    close_box(&o, dinf);
    size_t stco_at = 0;
    write_stbl(&o, v, shift, &stco_at);
    close_box(&o, minf);
    close_box(&o, mdia);
    close_box(&o, trak);
    close_box(&o, moov);
    const size_t chunk = o.len + 8; /* past mdat's header */
    u32(&o, (uint32_t)(v->mdat_len + 8)), put(&o, "mdat", 4);
    put(&o, v->mdat, v->mdat_len);
    if (o.failed) {
        free(o.b);
        return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    }
    o.b[stco_at] = (uint8_t)(chunk >> 24), o.b[stco_at + 1] = (uint8_t)(chunk >> 16);
    o.b[stco_at + 2] = (uint8_t)(chunk >> 8), o.b[stco_at + 3] = (uint8_t)chunk;
    free(v->buf);
    v->buf = o.b, v->len = o.len, v->cap = o.cap;
    return SG_OK;
}

/* ---- WebP ---------------------------------------------------------------------------------- */

static sg_status webp_open(sg_video *v, sg_error *err) {
    WebPAnimEncoderOptions ao;
    if (!WebPAnimEncoderOptionsInit(&ao) || !WebPConfigInit(&v->config))
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: libwebp version mismatch");
    ao.anim_params.loop_count = 0; /* forever */
    v->config.quality = 90;
    v->config.method = 4;
    if (!WebPValidateConfig(&v->config))
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: bad WebP settings");
    if (!(v->anim = WebPAnimEncoderNew(v->w, v->h, &ao)))
        return sg_error_set(err, SG_ERR_NOMEM, "video: cannot start a WebP animation");
    return SG_OK;
}

static int webp_ms(const sg_video *v, int frame) {
    return (int)(((int64_t)frame * 1000 + v->fps / 2) / v->fps);
}

static sg_status webp_add(sg_video *v, const sg_image *rgb, sg_error *err) {
    WebPPicture pic;
    if (!WebPPictureInit(&pic))
        return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: libwebp version mismatch");
    pic.use_argb = 1;
    pic.width = rgb->w, pic.height = rgb->h;
    sg_status st = SG_OK;
    if (!WebPPictureImportRGB(&pic, rgb->pixels, 3 * rgb->w))
        st = sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    else if (!WebPAnimEncoderAdd(v->anim, &pic, webp_ms(v, v->frames), &v->config))
        st =
            sg_error_set(err, SG_ERR_IO, "video: WebP frame: %s", WebPAnimEncoderGetError(v->anim));
    WebPPictureFree(&pic);
    return st;
}

static sg_status webp_finish(sg_video *v, sg_error *err) {
    WebPData data;
    WebPDataInit(&data);
    if (!WebPAnimEncoderAdd(v->anim, NULL, webp_ms(v, v->frames), NULL) ||
        !WebPAnimEncoderAssemble(v->anim, &data))
        return sg_error_set(err, SG_ERR_IO, "video: WebP: %s", WebPAnimEncoderGetError(v->anim));
    sg_status st = SG_OK;
    if (!(v->buf = malloc(data.size ? data.size : 1))) {
        st = sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    } else {
        memcpy(v->buf, data.bytes, data.size);
        v->len = v->cap = data.size;
    }
    WebPDataClear(&data);
    return st;
}

/* ---- the API ------------------------------------------------------------------------------- */

sg_status sg_video_open(sg_video **out, const char *path, sg_video_format fmt, int w, int h,
                        int fps, sg_error *err) {
    *out = NULL;
    if (fmt != SG_VIDEO_MP4 && fmt != SG_VIDEO_WEBP)
        return sg_error_set(err, SG_ERR_ARG, "video: unknown format %d", (int)fmt);
    if (w < 1 || h < 1 || w > SG_VIDEO_MAX_SIDE || h > SG_VIDEO_MAX_SIDE)
        return sg_error_set(err, SG_ERR_LIMIT, "video: %d×%d frames (sides 1..%d)", w, h,
                            SG_VIDEO_MAX_SIDE);
    if (fmt == SG_VIDEO_MP4 && (w % 2 || h % 2))
        return sg_error_set(err, SG_ERR_ARG, "video: MP4 frames need even sides, not %d×%d", w, h);
    if (fps < 1 || fps > 240) return sg_error_set(err, SG_ERR_ARG, "video: fps %d (1..240)", fps);
    sg_video *v = calloc(1, sizeof *v);
    if (!v) return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    v->fmt = fmt, v->w = w, v->h = h, v->fps = fps;
    if (path) {
        size_t n = strlen(path);
        v->path = strdup(path);
        v->part = malloc(n + 6);
        if (!v->path || !v->part) {
            sg_video_free(v);
            return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
        }
        snprintf(v->part, n + 6, "%s.part", path);
        /* fail now rather than after minutes of frames */
        FILE *f = fopen(v->part, "wb");
        if (!f) {
            sg_status st =
                sg_error_set(err, SG_ERR_IO, "video: cannot create %s: %s", path, strerror(errno));
            free(v->part), v->part = NULL; /* nothing to remove */
            sg_video_free(v);
            return st;
        }
        fclose(f);
    }
    sg_status st = fmt == SG_VIDEO_MP4 ? mp4_open(v, err) : webp_open(v, err);
    if (st) {
        sg_video_free(v);
        return st;
    }
    *out = v;
    return SG_OK;
}

sg_status sg_video_add_frame(sg_video *v, const sg_image *rgb, sg_error *err) {
    if (!v || v->finished) return sg_error_set(err, SG_ERR_ARG, "video: writer already finished");
    if (!rgb || !rgb->pixels || rgb->w != v->w || rgb->h != v->h)
        return sg_error_set(err, SG_ERR_SHAPE, "video: frame is %d×%d, the video %d×%d",
                            rgb ? rgb->w : 0, rgb ? rgb->h : 0, v->w, v->h);
    if (v->frames == INT32_MAX) return sg_error_set(err, SG_ERR_LIMIT, "video: too many frames");
    sg_status st = v->fmt == SG_VIDEO_MP4 ? mp4_add(v, rgb, err) : webp_add(v, rgb, err);
    if (!st) v->frames++;
    return st;
}

sg_status sg_video_finish(sg_video *v, uint8_t **bytes, size_t *len, sg_error *err) {
    if (bytes) *bytes = NULL;
    if (len) *len = 0;
    if (!v || v->finished) return sg_error_set(err, SG_ERR_ARG, "video: writer already finished");
    if (v->frames < 1) return sg_error_set(err, SG_ERR_ARG, "video: no frames");
    if (!v->path && !bytes) return sg_error_set(err, SG_ERR_ARG, "video: nowhere to put the bytes");
    sg_status st = v->fmt == SG_VIDEO_MP4 ? mp4_finish(v, err) : webp_finish(v, err);
    if (st) return st;
    v->finished = 1;
    if (v->path) {
        FILE *f = fopen(v->part, "wb");
        int ok = f && fwrite(v->buf, 1, v->len, f) == v->len;
        if (f && fclose(f)) ok = 0;
        if (!ok || rename(v->part, v->path))
            return sg_error_set(err, SG_ERR_IO, "video: cannot write %s: %s", v->path,
                                strerror(errno));
        free(v->part), v->part = NULL;
        if (len) *len = v->len;
        return SG_OK;
    }
    *bytes = v->buf, *len = v->len;
    v->buf = NULL, v->len = v->cap = 0;
    return SG_OK;
}

int sg_video_frames(const sg_video *v) { return v ? v->frames : 0; }

void sg_video_free(sg_video *v) {
    if (!v) return;
    if (v->pic_alloc) x264_picture_clean(&v->pic);
    if (v->enc) x264_encoder_close(v->enc);
    free(v->sps);
    free(v->pps);
    free(v->mdat);
    free(v->samples);
    if (v->anim) WebPAnimEncoderDelete(v->anim);
    if (v->part) unlink(v->part); /* unfinished (or failed) */
    free(v->part);
    free(v->path);
    free(v->buf);
    free(v);
}
