/* image/video: H.264 MP4 through libavcodec/libavformat/libswscale, animated WebP through
 * libwebp's animation encoder (libwebpmux). See video.h. */
#include "image.h"

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <webp/encode.h>
#include <webp/mux.h>

struct sg_video {
    sg_video_format fmt;
    int w, h, fps, frames, finished;
    char *path, *part; /* the file asked for, and the one written until finish renames it */
    /* the growing file, in memory either way (MP4: seekable, the muxer rewrites sizes at the
     * end); a path gets it at finish */
    uint8_t *buf;
    size_t len, cap, pos;
    /* MP4 */
    AVFormatContext *fc;
    AVCodecContext *cc;
    AVStream *st;
    AVIOContext *mem_io;
    struct SwsContext *sws;
    AVFrame *frame;
    AVFrame *rgb; /* [h, w, 3] staging: padded and aligned as libswscale's SIMD reads need */
    AVPacket *pkt;
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

static sg_status av_fail(sg_error *err, sg_status st, const char *what, int averr) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(averr, msg, sizeof msg);
    return sg_error_set(err, st, "video: %s: %s", what, msg);
}

/* ---- in-memory output for libavformat --------------------------------------------------- */

static int mem_write(void *opaque, uint8_t *data, int n) {
    sg_video *v = opaque;
    if (n < 0) return AVERROR(EINVAL);
    size_t end = v->pos + (size_t)n;
    if (end > v->cap) {
        size_t cap = v->cap ? v->cap : 1 << 16;
        while (cap < end) cap *= 2;
        uint8_t *b = realloc(v->buf, cap);
        if (!b) return AVERROR(ENOMEM);
        v->buf = b, v->cap = cap;
    }
    if (v->pos > v->len) memset(v->buf + v->len, 0, v->pos - v->len);
    memcpy(v->buf + v->pos, data, (size_t)n);
    v->pos = end;
    if (end > v->len) v->len = end;
    return n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    sg_video *v = opaque;
    if (whence & AVSEEK_SIZE) return (int64_t)v->len;
    whence &= ~AVSEEK_FORCE;
    int64_t base = whence == SEEK_CUR ? (int64_t)v->pos : whence == SEEK_END ? (int64_t)v->len : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
    if (base + off < 0) return AVERROR(EINVAL);
    v->pos = (size_t)(base + off);
    return base + off;
}

/* ---- MP4 ----------------------------------------------------------------------------------- */

/* libx264 announces its settings at info level; errors still reach stderr (the daemon log). */
static void quiet_av_log(void) { av_log_set_level(AV_LOG_ERROR); }

static sg_status mp4_open(sg_video *v, sg_error *err) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_av_log);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (!codec)
        return sg_error_set(err, SG_ERR_UNSUPPORTED,
                            "video: this libavcodec has no H.264 encoder (Debian's has libx264)");
    int r = avformat_alloc_output_context2(&v->fc, NULL, "mp4", NULL);
    if (r < 0) return av_fail(err, SG_ERR_UNSUPPORTED, "mp4 muxer", r);
    if (!(v->st = avformat_new_stream(v->fc, NULL)) || !(v->cc = avcodec_alloc_context3(codec)) ||
        !(v->frame = av_frame_alloc()) || !(v->rgb = av_frame_alloc()) ||
        !(v->pkt = av_packet_alloc()))
        return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    AVCodecContext *cc = v->cc;
    cc->width = v->w, cc->height = v->h;
    cc->pix_fmt = AV_PIX_FMT_YUV420P;
    cc->time_base = (AVRational){1, v->fps};
    cc->framerate = (AVRational){v->fps, 1};
    cc->gop_size = 2 * v->fps; /* a key frame every 2 s: seeking stays quick */
    cc->max_b_frames = 2;
    /* What swscale below converts to: BT.601 matrix, limited range; sRGB primaries and curve. */
    cc->color_range = AVCOL_RANGE_MPEG;
    cc->colorspace = AVCOL_SPC_SMPTE170M;
    cc->color_primaries = AVCOL_PRI_BT709;
    cc->color_trc = AVCOL_TRC_IEC61966_2_1;
    /* One encoder thread: the generator's pool owns the cores, and frames are small beside it. */
    cc->thread_count = 1;
    if (v->fc->oformat->flags & AVFMT_GLOBALHEADER) cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    if (!strcmp(codec->name, "libx264")) {
        av_dict_set(&opts, "preset", "medium", 0);
        av_dict_set(&opts, "crf", "20", 0);
    } else {
        cc->bit_rate = (int64_t)v->w * v->h * v->fps / 4; /* ~0.25 bit per pixel */
    }
    r = avcodec_open2(cc, codec, &opts);
    av_dict_free(&opts);
    if (r < 0) return av_fail(err, SG_ERR_UNSUPPORTED, codec->name, r);
    if ((r = avcodec_parameters_from_context(v->st->codecpar, cc)) < 0)
        return av_fail(err, SG_ERR_NOMEM, "stream parameters", r);
    v->st->time_base = cc->time_base;

    /* Always muxed into memory: the index is moved to the front there (faststart), and a file
     * gets exactly the bytes an in-memory caller does. */
    const int io_size = 1 << 16;
    uint8_t *io_buf = av_malloc(io_size);
    if (!io_buf) return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    v->mem_io = avio_alloc_context(io_buf, io_size, 1, v, NULL, mem_write, mem_seek);
    if (!v->mem_io) {
        av_free(io_buf);
        return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    }
    v->fc->pb = v->mem_io;
    v->fc->flags |= AVFMT_FLAG_CUSTOM_IO;
    r = avformat_write_header(v->fc, NULL);
    if (r < 0) return av_fail(err, SG_ERR_IO, "mp4 header", r);

    v->sws = sws_getContext(v->w, v->h, AV_PIX_FMT_RGB24, v->w, v->h, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC | SWS_ACCURATE_RND, NULL, NULL, NULL);
    if (!v->sws) return sg_error_set(err, SG_ERR_UNSUPPORTED, "video: no RGB to YUV converter");
    const int *bt601 = sws_getCoefficients(SWS_CS_ITU601);
    sws_setColorspaceDetails(v->sws, bt601, 1, bt601, 0, 0, 1 << 16, 1 << 16);
    v->frame->format = AV_PIX_FMT_YUV420P;
    v->frame->width = v->w, v->frame->height = v->h;
    if ((r = av_frame_get_buffer(v->frame, 0)) < 0) return av_fail(err, SG_ERR_NOMEM, "frame", r);
    v->rgb->format = AV_PIX_FMT_RGB24;
    v->rgb->width = v->w, v->rgb->height = v->h;
    if ((r = av_frame_get_buffer(v->rgb, 0)) < 0) return av_fail(err, SG_ERR_NOMEM, "frame", r);
    return SG_OK;
}

/* Sends frame (NULL: end of stream) and writes every packet the encoder has ready. */
static sg_status mp4_encode(sg_video *v, AVFrame *frame, sg_error *err) {
    int r = avcodec_send_frame(v->cc, frame);
    if (r < 0) return av_fail(err, SG_ERR_IO, "encode", r);
    for (;;) {
        r = avcodec_receive_packet(v->cc, v->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return SG_OK;
        if (r < 0) return av_fail(err, SG_ERR_IO, "encode", r);
        /* every frame shows 1/fps s; without it the muxer guesses the last one's duration (0),
         * and demuxers drop that frame through the edit list */
        v->pkt->duration = 1;
        av_packet_rescale_ts(v->pkt, v->cc->time_base, v->st->time_base);
        v->pkt->stream_index = v->st->index;
        r = av_interleaved_write_frame(v->fc, v->pkt); /* takes the packet's data */
        if (r < 0) return av_fail(err, SG_ERR_IO, "write", r);
    }
}

static sg_status mp4_add(sg_video *v, const sg_image *rgb, sg_error *err) {
    int r = av_frame_make_writable(v->frame);
    if (r < 0) return av_fail(err, SG_ERR_NOMEM, "frame", r);
    /* libswscale's vector code reads past the end of a row; straight from rgb->pixels that ran
     * off the end of the allocation (a SEGV under TSan's allocator). Copy into padded rows. */
    av_image_copy_plane(v->rgb->data[0], v->rgb->linesize[0], rgb->pixels, 3 * rgb->w, 3 * v->w,
                        v->h);
    const uint8_t *const *planes = (const uint8_t *const *)v->rgb->data;
    sws_scale(v->sws, planes, v->rgb->linesize, 0, v->h, v->frame->data, v->frame->linesize);
    v->frame->pts = v->frames;
    return mp4_encode(v, v->frame, err);
}

/* ---- faststart: the index (moov) moved in front of the media data (mdat) ----
 * libavformat writes [ftyp][free][mdat][moov]. Moving moov before mdat (as qt-faststart and
 * "-movflags +faststart" do) lets a player start before the whole file has arrived; every
 * chunk offset in moov (stco, co64) then grows by moov's size. */

static uint64_t rd32(const uint8_t *p) {
    return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) << 32 | rd32(p + 4); }
static void wr32(uint8_t *p, uint64_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One box at p (n bytes left): its type, header and total size; -1 when malformed. */
static int box(const uint8_t *p, size_t n, const uint8_t **type, size_t *hdr, size_t *size) {
    if (n < 8) return -1;
    uint64_t sz = rd32(p);
    *hdr = 8, *type = p + 4;
    if (sz == 1) {
        if (n < 16) return -1;
        sz = rd64(p + 8), *hdr = 16;
    } else if (sz == 0) {
        sz = n;
    }
    if (sz < *hdr || sz > n) return -1;
    *size = (size_t)sz;
    return 0;
}

/* Adds delta to every chunk offset in the boxes of [p, p + n). -1: malformed, or a 32-bit
 * offset that would overflow (then the file is left as muxed). */
static int shift_chunks(uint8_t *p, size_t n, uint64_t delta) {
    static const char *const containers[] = {"moov", "trak", "mdia", "minf", "stbl"};
    for (size_t off = 0; off < n;) {
        const uint8_t *type;
        size_t hdr, size;
        if (box(p + off, n - off, &type, &hdr, &size)) return -1;
        uint8_t *body = p + off + hdr;
        size_t len = size - hdr;
        int is_container = 0;
        for (size_t k = 0; k < sizeof containers / sizeof *containers; k++)
            is_container |= !memcmp(type, containers[k], 4);
        if (is_container && shift_chunks(body, len, delta)) return -1;
        int co64 = !memcmp(type, "co64", 4), stco = !memcmp(type, "stco", 4);
        if (stco || co64) {
            if (len < 8) return -1;
            uint64_t count = rd32(body + 4), width = co64 ? 8 : 4;
            if (count > (len - 8) / width) return -1;
            for (uint64_t i = 0; i < count; i++) {
                uint8_t *e = body + 8 + i * width;
                uint64_t o = (co64 ? rd64(e) : rd32(e)) + delta;
                if (stco && o > 0xFFFFFFFFu) return -1;
                if (co64) wr32(e, o >> 32), wr32(e + 4, o);
                else wr32(e, o);
            }
        }
        off += size;
    }
    return 0;
}

static sg_status faststart(sg_video *v, sg_error *err) {
    size_t mdat = SIZE_MAX, moov = SIZE_MAX, moov_size = 0;
    for (size_t off = 0; off < v->len;) {
        const uint8_t *type;
        size_t hdr, size;
        if (box(v->buf + off, v->len - off, &type, &hdr, &size)) return SG_OK; /* as muxed */
        if (!memcmp(type, "mdat", 4) && mdat == SIZE_MAX) mdat = off;
        if (!memcmp(type, "moov", 4) && moov == SIZE_MAX) moov = off, moov_size = size;
        off += size;
    }
    if (mdat == SIZE_MAX || moov == SIZE_MAX || moov < mdat) return SG_OK;
    uint8_t *out = malloc(v->len);
    if (!out) return sg_error_set(err, SG_ERR_NOMEM, "video: out of memory");
    memcpy(out, v->buf, mdat);
    memcpy(out + mdat, v->buf + moov, moov_size);
    if (shift_chunks(out + mdat, moov_size, moov_size)) {
        free(out);
        return SG_OK;
    }
    memcpy(out + mdat + moov_size, v->buf + mdat, moov - mdat);
    memcpy(out + moov + moov_size, v->buf + moov + moov_size, v->len - moov - moov_size);
    free(v->buf);
    v->buf = out, v->cap = v->len;
    return SG_OK;
}

static sg_status mp4_finish(sg_video *v, sg_error *err) {
    sg_status st = mp4_encode(v, NULL, err);
    if (st) return st;
    int r = av_write_trailer(v->fc);
    if (r < 0) return av_fail(err, SG_ERR_IO, "mp4 trailer", r);
    avio_flush(v->mem_io);
    if (v->mem_io->error < 0) return av_fail(err, SG_ERR_NOMEM, "mp4", v->mem_io->error);
    return faststart(v, err);
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
    avformat_free_context(v->fc);
    if (v->mem_io) {
        av_freep(&v->mem_io->buffer);
        avio_context_free(&v->mem_io);
    }
    avcodec_free_context(&v->cc);
    sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_frame_free(&v->rgb);
    av_packet_free(&v->pkt);
    if (v->anim) WebPAnimEncoderDelete(v->anim);
    if (v->part) unlink(v->part); /* unfinished (or failed) */
    free(v->part);
    free(v->path);
    free(v->buf);
    free(v);
}
