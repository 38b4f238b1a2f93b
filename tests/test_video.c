/* image/video and the frame composer (image_grid.c): MP4s decoded back with libavformat /
 * libavcodec, animated WebPs with libwebp's demuxer; frame count, size, timing and likeness to
 * the frames given (likeness also proves the index's chunk offsets right after faststart); the
 * grid and blits checked pixel by pixel. */
#include "testutil.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <webp/demux.h>

#include "../image/image.h"

/* ---- test frames: a smooth gradient with a block that moves with k, so frames differ ---- */
static sg_image make_frame(int w, int h, int k) {
    sg_image img;
    sg_error err = {0};
    assert_int_equal(sg_image_create(&img, w, h, NULL, &err), SG_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(40 + 160 * x / w);
            p[1] = (uint8_t)(40 + 160 * y / h);
            p[2] = (uint8_t)(60 + 10 * (k % 8));
        }
    static const uint8_t white[3] = {240, 240, 240};
    sg_image_fill(&img, (k * 6) % (w - 16), h / 4, 16, 16, white);
    return img;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
    return s / (double)n;
}

static const char *tmp_path(const char *name) {
    static char p[2][1024];
    static int which;
    which ^= 1;
    snprintf(p[which], sizeof p[which], "%s/video-test-%d-%s", SG_BUILD_DIR, (int)getpid(), name);
    return p[which];
}

static void write_file(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* Decodes every frame of an MP4 file to RGB (BT.601 limited range back to full, as it was
 * written). Returns the frame count; frames[] receives up to max of them (free each). */
static int decode_mp4(const char *path, int *w, int *h, double *fps, sg_image *frames, int max) {
    AVFormatContext *fc = NULL;
    assert_int_equal(avformat_open_input(&fc, path, NULL, NULL), 0);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    assert_int_equal(fc->nb_streams, 1);
    AVStream *st = fc->streams[0];
    assert_int_equal(st->codecpar->codec_id, AV_CODEC_ID_H264);
    const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_H264);
    assert_non_null(dec);
    AVCodecContext *cc = avcodec_alloc_context3(dec);
    avcodec_parameters_to_context(cc, st->codecpar);
    assert_int_equal(avcodec_open2(cc, dec, NULL), 0);
    *w = cc->width, *h = cc->height;
    *fps = av_q2d(st->avg_frame_rate);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    struct SwsContext *sws = NULL;
    int n = 0, eof = 0;
    while (!eof) {
        int r = av_read_frame(fc, pkt);
        if (r < 0) {
            eof = 1;
            avcodec_send_packet(cc, NULL);
        } else {
            assert_int_equal(avcodec_send_packet(cc, pkt), 0);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(cc, fr) == 0) {
            if (n < max) {
                if (!sws) {
                    sws = sws_getContext(fr->width, fr->height, fr->format, fr->width, fr->height,
                                         AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND, NULL,
                                         NULL, NULL);
                    const int *bt601 = sws_getCoefficients(SWS_CS_ITU601);
                    sws_setColorspaceDetails(sws, bt601, 0, bt601, 1, 0, 1 << 16, 1 << 16);
                }
                sg_error err = {0};
                assert_int_equal(sg_image_create(&frames[n], fr->width, fr->height, NULL, &err),
                                 SG_OK);
                uint8_t *dst[1] = {frames[n].pixels};
                int stride[1] = {3 * fr->width};
                sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst,
                          stride);
            }
            n++;
        }
    }
    sws_freeContext(sws);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&cc);
    avformat_close_input(&fc);
    return n;
}

/* Frame k decoded must look like frame k given, and less like its neighbours. */
static void check_likeness(const sg_image *in, const sg_image *out, int n, double tol) {
    size_t bytes = (size_t)in[0].w * in[0].h * 3;
    for (int k = 0; k < n; k++) {
        assert_int_equal(out[k].w, in[k].w);
        assert_int_equal(out[k].h, in[k].h);
        double d = mean_abs_diff(in[k].pixels, out[k].pixels, bytes);
        if (d > tol) fail_msg("frame %d: mean difference %.2f > %.2f", k, d, tol);
        if (k + 1 < n) {
            double dn = mean_abs_diff(in[k + 1].pixels, out[k].pixels, bytes);
            if (!(d < dn)) fail_msg("frame %d is nearer the next frame (%.2f vs %.2f)", k, dn, d);
        }
    }
}

enum { W = 96, H = 64, N = 12, FPS = 12 };

static const uint8_t *find4(const uint8_t *b, size_t n, const char *tag) {
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(b + i, tag, 4)) return b + i;
    return NULL;
}

static void test_mp4_memory(void **state) {
    (void)state;
    sg_image in[N], out[N + 4];
    for (int k = 0; k < N; k++) in[k] = make_frame(W, H, k);
    sg_video *v;
    sg_error err = {0};
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_MP4, W, H, FPS, &err), SG_OK);
    for (int k = 0; k < N; k++) assert_int_equal(sg_video_add_frame(v, &in[k], &err), SG_OK);
    assert_int_equal(sg_video_frames(v), N);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(sg_video_finish(v, &bytes, &len, &err), SG_OK);
    sg_video_free(v);
    assert_true(len > 100);
    assert_memory_equal(bytes + 4, "ftyp", 4);
    /* faststart in memory too: the index before the media data */
    const uint8_t *moov = find4(bytes, len, "moov"), *mdat = find4(bytes, len, "mdat");
    assert_non_null(moov);
    assert_non_null(mdat);
    assert_true(moov < mdat);
    const char *p = tmp_path("mem.mp4");
    write_file(p, bytes, len);
    free(bytes);
    int w, h;
    double fps;
    int n = decode_mp4(p, &w, &h, &fps, out, N + 4);
    unlink(p);
    assert_int_equal(n, N);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    assert_true(fps > FPS - 0.01 && fps < FPS + 0.01);
    check_likeness(in, out, N, 4.0);
    for (int k = 0; k < N; k++) sg_image_free(&in[k]), sg_image_free(&out[k]);
}

/* A frame whose pixels end right before an unmapped page: libswscale's vector code reads past a
 * row's end, so the encoder must not hand it the caller's buffer (this crashed the server under
 * TSan, whose allocator puts big blocks at page ends). Odd-width rows (3 * 98 bytes) as well. */
static void test_mp4_frame_at_page_end(void **state) {
    (void)state;
    const int w = 98, h = 64;
    const size_t n = (size_t)3 * w * h, page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t span = (n + page - 1) / page * page;
    uint8_t *map =
        mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);
    assert_int_equal(mprotect(map + span, page, PROT_NONE), 0);
    sg_image src = make_frame(w, h, 3);
    sg_image edge = {map + span - n, w, h};
    memcpy(edge.pixels, src.pixels, n);
    sg_video *v;
    sg_error err = {0};
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_MP4, w, h, FPS, &err), SG_OK);
    for (int k = 0; k < 3; k++) assert_int_equal(sg_video_add_frame(v, &edge, &err), SG_OK);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(sg_video_finish(v, &bytes, &len, &err), SG_OK);
    sg_video_free(v);
    assert_true(len > 100);
    free(bytes);
    sg_image_free(&src);
    munmap(map, span + page);
}

static void test_mp4_file(void **state) {
    (void)state;
    const char *p = tmp_path("file.mp4");
    char part[1100];
    snprintf(part, sizeof part, "%s.part", p);
    sg_image in[N], out[N + 4];
    for (int k = 0; k < N; k++) in[k] = make_frame(W, H, 3 * k);
    sg_video *v;
    sg_error err = {0};
    assert_int_equal(sg_video_open(&v, p, SG_VIDEO_MP4, W, H, 25, &err), SG_OK);
    for (int k = 0; k < N; k++) assert_int_equal(sg_video_add_frame(v, &in[k], &err), SG_OK);
    assert_int_equal(access(p, F_OK), -1); /* not there until finished */
    size_t len = 0;
    assert_int_equal(sg_video_finish(v, NULL, &len, &err), SG_OK);
    sg_video_free(v);
    assert_int_equal(access(part, F_OK), -1);
    size_t n_file;
    uint8_t *b = read_file(p, &n_file);
    assert_non_null(b);
    assert_int_equal(n_file, len);
    /* faststart: the index before the media data */
    const uint8_t *moov = find4(b, n_file, "moov"), *mdat = find4(b, n_file, "mdat");
    assert_non_null(moov);
    assert_non_null(mdat);
    assert_true(moov < mdat);
    free(b);
    int w, h;
    double fps;
    int n = decode_mp4(p, &w, &h, &fps, out, N + 4);
    unlink(p);
    assert_int_equal(n, N);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    assert_true(fps > 24.99 && fps < 25.01);
    check_likeness(in, out, N, 4.0);
    for (int k = 0; k < N; k++) sg_image_free(&in[k]), sg_image_free(&out[k]);
}

/* A file holds exactly the bytes an in-memory writer returns (the CLI's file = an HTTP answer). */
static void test_file_equals_memory(void **state) {
    (void)state;
    for (int fmt = SG_VIDEO_MP4; fmt <= SG_VIDEO_WEBP; fmt++) {
        const char *p = tmp_path(fmt == SG_VIDEO_MP4 ? "same.mp4" : "same.webp");
        uint8_t *mem = NULL;
        size_t mem_len = 0, file_len = 0;
        sg_error err = {0};
        for (int to_file = 0; to_file < 2; to_file++) {
            sg_video *v;
            assert_int_equal(
                sg_video_open(&v, to_file ? p : NULL, (sg_video_format)fmt, W, H, FPS, &err),
                SG_OK);
            for (int k = 0; k < 6; k++) {
                sg_image f = make_frame(W, H, 2 * k);
                assert_int_equal(sg_video_add_frame(v, &f, &err), SG_OK);
                sg_image_free(&f);
            }
            if (to_file) assert_int_equal(sg_video_finish(v, NULL, &file_len, &err), SG_OK);
            else assert_int_equal(sg_video_finish(v, &mem, &mem_len, &err), SG_OK);
            sg_video_free(v);
        }
        size_t n;
        uint8_t *file = read_file(p, &n);
        unlink(p);
        assert_non_null(file);
        assert_int_equal(n, file_len);
        assert_int_equal(n, mem_len);
        assert_memory_equal(file, mem, n);
        free(file), free(mem);
    }
}

static void test_unfinished_removed(void **state) {
    (void)state;
    for (int fmt = SG_VIDEO_MP4; fmt <= SG_VIDEO_WEBP; fmt++) {
        const char *p = tmp_path(fmt == SG_VIDEO_MP4 ? "gone.mp4" : "gone.webp");
        char part[1100];
        snprintf(part, sizeof part, "%s.part", p);
        sg_video *v;
        sg_error err = {0};
        assert_int_equal(sg_video_open(&v, p, (sg_video_format)fmt, W, H, FPS, &err), SG_OK);
        sg_image f = make_frame(W, H, 1);
        assert_int_equal(sg_video_add_frame(v, &f, &err), SG_OK);
        sg_image_free(&f);
        assert_int_equal(access(part, F_OK), 0);
        sg_video_free(v);
        assert_int_equal(access(part, F_OK), -1);
        assert_int_equal(access(p, F_OK), -1);
    }
}

static void test_errors(void **state) {
    (void)state;
    sg_video *v = (sg_video *)1;
    sg_error err = {0};
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_MP4, 65, 64, FPS, &err), SG_ERR_ARG);
    assert_null(v);
    assert_non_null(strstr(err.msg, "even"));
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_MP4, 64, 64, 0, &err), SG_ERR_ARG);
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_WEBP, 0, 64, FPS, &err), SG_ERR_LIMIT);
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_WEBP, 64, SG_VIDEO_MAX_SIDE + 1, FPS, &err),
                     SG_ERR_LIMIT);
    assert_int_equal(sg_video_open(&v, NULL, (sg_video_format)7, 64, 64, FPS, &err), SG_ERR_ARG);
    assert_int_equal(
        sg_video_open(&v, SG_BUILD_DIR "/no-such-dir/x.mp4", SG_VIDEO_MP4, 64, 64, FPS, &err),
        SG_ERR_IO);
    /* odd sides are fine for WebP */
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_WEBP, 65, 33, FPS, &err), SG_OK);
    sg_video_free(v);
    for (int fmt = SG_VIDEO_MP4; fmt <= SG_VIDEO_WEBP; fmt++) {
        assert_int_equal(sg_video_open(&v, NULL, (sg_video_format)fmt, 64, 64, FPS, &err), SG_OK);
        uint8_t *b = (uint8_t *)1;
        size_t len = 1;
        assert_int_equal(sg_video_finish(v, &b, &len, &err), SG_ERR_ARG); /* no frames */
        assert_null(b);
        sg_image f = make_frame(W, H, 0); /* 96×64, not 64×64 */
        assert_int_equal(sg_video_add_frame(v, &f, &err), SG_ERR_SHAPE);
        sg_image_free(&f);
        f = make_frame(64, 64, 0);
        assert_int_equal(sg_video_add_frame(v, &f, &err), SG_OK);
        assert_int_equal(sg_video_finish(v, &b, &len, &err), SG_OK);
        assert_int_equal(sg_video_add_frame(v, &f, &err), SG_ERR_ARG); /* after finish */
        sg_image_free(&f);
        free(b);
        sg_video_free(v);
    }
    sg_video_free(NULL);
    assert_int_equal(sg_video_format_parse("MP4"), SG_VIDEO_MP4);
    assert_int_equal(sg_video_format_parse("webp"), SG_VIDEO_WEBP);
    assert_int_equal(sg_video_format_parse("gif"), -1);
    assert_string_equal(sg_video_mime(SG_VIDEO_MP4), "video/mp4");
    assert_string_equal(sg_video_mime(SG_VIDEO_WEBP), "image/webp");
}

/* Decodes an animated WebP: canvas size, loop count, every frame as RGB with its timestamp
 * (the end of its display, in ms). */
static int decode_webp(const uint8_t *b, size_t len, int *w, int *h, sg_image *frames, int *end_ms,
                       int max) {
    WebPData data = {b, len};
    WebPAnimDecoderOptions o;
    assert_true(WebPAnimDecoderOptionsInit(&o));
    o.color_mode = MODE_RGBA;
    WebPAnimDecoder *d = WebPAnimDecoderNew(&data, &o);
    assert_non_null(d);
    WebPAnimInfo info;
    assert_true(WebPAnimDecoderGetInfo(d, &info));
    *w = (int)info.canvas_width, *h = (int)info.canvas_height;
    assert_int_equal(info.loop_count, 0);
    int n = 0;
    while (WebPAnimDecoderHasMoreFrames(d)) {
        uint8_t *rgba;
        int ts;
        assert_true(WebPAnimDecoderGetNext(d, &rgba, &ts));
        if (n < max) {
            sg_error err = {0};
            assert_int_equal(sg_image_create(&frames[n], *w, *h, NULL, &err), SG_OK);
            for (int i = 0; i < *w * *h; i++) memcpy(frames[n].pixels + 3 * i, rgba + 4 * i, 3);
            end_ms[n] = ts;
        }
        n++;
    }
    assert_int_equal((int)info.frame_count, n);
    WebPAnimDecoderDelete(d);
    return n;
}

static void test_webp(void **state) {
    (void)state;
    enum { WW = 97, WH = 63 }; /* odd sides: WebP takes them */
    sg_image in[N], out[N + 4];
    int end_ms[N + 4];
    for (int k = 0; k < N; k++) in[k] = make_frame(WW, WH, k);
    sg_video *v;
    sg_error err = {0};
    assert_int_equal(sg_video_open(&v, NULL, SG_VIDEO_WEBP, WW, WH, 10, &err), SG_OK);
    for (int k = 0; k < N; k++) assert_int_equal(sg_video_add_frame(v, &in[k], &err), SG_OK);
    uint8_t *bytes;
    size_t len;
    assert_int_equal(sg_video_finish(v, &bytes, &len, &err), SG_OK);
    sg_video_free(v);
    assert_memory_equal(bytes, "RIFF", 4);
    assert_memory_equal(bytes + 8, "WEBP", 4);
    int w, h;
    int n = decode_webp(bytes, len, &w, &h, out, end_ms, N + 4);
    free(bytes);
    assert_int_equal(n, N);
    assert_int_equal(w, WW);
    assert_int_equal(h, WH);
    for (int k = 0; k < N; k++) assert_int_equal(end_ms[k], (k + 1) * 100);
    check_likeness(in, out, N, 4.0);
    for (int k = 0; k < N; k++) sg_image_free(&in[k]), sg_image_free(&out[k]);
}

static void test_webp_file_merges_repeats(void **state) {
    (void)state;
    const char *p = tmp_path("anim.webp");
    sg_image a = make_frame(64, 64, 0), b = make_frame(64, 64, 5), out[8];
    int end_ms[8];
    sg_video *v;
    sg_error err = {0};
    assert_int_equal(sg_video_open(&v, p, SG_VIDEO_WEBP, 64, 64, 20, &err), SG_OK);
    const sg_image *seq[5] = {&a, &a, &a, &b, &b};
    for (int k = 0; k < 5; k++) assert_int_equal(sg_video_add_frame(v, seq[k], &err), SG_OK);
    size_t len;
    assert_int_equal(sg_video_finish(v, NULL, &len, &err), SG_OK);
    sg_video_free(v);
    size_t n_file;
    uint8_t *bytes = read_file(p, &n_file);
    unlink(p);
    assert_non_null(bytes);
    assert_int_equal(n_file, len);
    int w, h;
    int n = decode_webp(bytes, n_file, &w, &h, out, end_ms, 8);
    free(bytes);
    /* held frames become one longer frame: a for 150 ms, then b until 250 ms */
    assert_int_equal(n, 2);
    assert_int_equal(end_ms[0], 150);
    assert_int_equal(end_ms[1], 250);
    assert_true(mean_abs_diff(a.pixels, out[0].pixels, 64 * 64 * 3) < 4.0);
    assert_true(mean_abs_diff(b.pixels, out[1].pixels, 64 * 64 * 3) < 4.0);
    sg_image_free(&a), sg_image_free(&b), sg_image_free(&out[0]), sg_image_free(&out[1]);
}

/* ---- composition ---------------------------------------------------------------------------- */

static sg_image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    sg_image img;
    sg_error err = {0};
    const uint8_t rgb[3] = {r, g, b};
    assert_int_equal(sg_image_create(&img, w, h, rgb, &err), SG_OK);
    return img;
}

static const uint8_t *px(const sg_image *img, int x, int y) {
    return img->pixels + ((size_t)y * img->w + x) * 3;
}

static void test_grid_by_hand(void **state) {
    (void)state;
    /* 2 rows × 3 columns of 2×3 cells; cell (0, 0) empty (white fill). Each cell's pixels carry
     * their cell and position so a misplaced copy is caught. */
    sg_image cells[6];
    const sg_image *ptr[6];
    for (int i = 0; i < 6; i++) {
        cells[i] = solid(2, 3, 0, 0, 0);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 2; x++) {
                uint8_t *p = cells[i].pixels + ((size_t)y * 2 + x) * 3;
                p[0] = (uint8_t)(10 * i), p[1] = (uint8_t)x, p[2] = (uint8_t)y;
            }
        ptr[i] = i ? &cells[i] : NULL;
    }
    const uint8_t white[3] = {255, 255, 255};
    sg_image g;
    sg_error err = {0};
    assert_int_equal(sg_image_grid(ptr, 2, 3, 2, 3, white, &g, &err), SG_OK);
    assert_int_equal(g.w, 6);
    assert_int_equal(g.h, 6);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++) {
            int i = (y / 3) * 3 + x / 2;
            const uint8_t *p = px(&g, x, y);
            if (i == 0) {
                assert_memory_equal(p, white, 3);
            } else {
                assert_int_equal(p[0], 10 * i);
                assert_int_equal(p[1], x % 2);
                assert_int_equal(p[2], y % 3);
            }
        }
    sg_image_free(&g);
    /* a cell of the wrong size is refused, naming it */
    sg_image odd = solid(3, 3, 1, 2, 3);
    ptr[4] = &odd;
    assert_int_equal(sg_image_grid(ptr, 2, 3, 2, 3, NULL, &g, &err), SG_ERR_SHAPE);
    assert_non_null(strstr(err.msg, "(1, 1)"));
    assert_null(g.pixels);
    assert_int_equal(sg_image_grid(ptr, 0, 3, 2, 3, NULL, &g, &err), SG_ERR_ARG);
    assert_int_equal(sg_image_grid(ptr, 2, 3, 40000, 3, NULL, &g, &err), SG_ERR_LIMIT);
    /* all empty, black by default */
    const sg_image *none[2] = {NULL, NULL};
    assert_int_equal(sg_image_grid(none, 1, 2, 2, 2, NULL, &g, &err), SG_OK);
    for (int i = 0; i < 4 * 2 * 3; i++) assert_int_equal(g.pixels[i], 0);
    sg_image_free(&g);
    sg_image_free(&odd);
    for (int i = 0; i < 6; i++) sg_image_free(&cells[i]);
}

static void test_blit_fill_clip(void **state) {
    (void)state;
    sg_image dst = solid(5, 4, 9, 9, 9), src = solid(3, 3, 0, 0, 0);
    for (int i = 0; i < 9; i++) src.pixels[3 * i] = (uint8_t)(100 + i);
    sg_image_blit(&dst, &src, -1, 2); /* src columns 1..2 land on x 0..1, rows 0..1 on y 2..3 */
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 5; x++) {
            const uint8_t *p = px(&dst, x, y);
            if (y >= 2 && x <= 1) {
                assert_int_equal(p[0], 100 + (y - 2) * 3 + (x + 1));
            } else {
                assert_int_equal(p[0], 9);
            }
        }
    sg_image_blit(&dst, &src, 5, 0); /* wholly outside: nothing */
    sg_image_blit(&dst, &src, -3, 0);
    const uint8_t red[3] = {200, 0, 0};
    sg_image_fill(&dst, 3, -2, 10, 3, red); /* x 3..4, y 0 */
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 5; x++) {
            const uint8_t *p = px(&dst, x, y);
            if (x >= 3 && y == 0) assert_memory_equal(p, red, 3);
            else if (!(y >= 2 && x <= 1)) assert_int_equal(p[0], 9);
        }
    sg_image_free(&dst), sg_image_free(&src);
}

/* a 3x2 image extended to 4x4: its own pixels, then its last column and row repeated */
static void test_extend(void **state) {
    (void)state;
    sg_image src = solid(3, 2, 0, 0, 0), out = {0};
    sg_error err = {0};
    for (int i = 0; i < 6; i++) src.pixels[3 * i] = (uint8_t)(10 + i), src.pixels[3 * i + 2] = 7;
    assert_int_equal(sg_image_extend(&src, 4, 4, &out, &err), SG_OK);
    assert_int_equal(out.w, 4), assert_int_equal(out.h, 4);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            int sx = x < 3 ? x : 2, sy = y < 2 ? y : 1;
            assert_int_equal(px(&out, x, y)[0], 10 + sy * 3 + sx);
            assert_int_equal(px(&out, x, y)[2], 7);
        }
    sg_image_free(&out);
    assert_int_equal(sg_image_extend(&src, 2, 4, &out, &err), SG_ERR_ARG); /* narrower: refused */
    assert_null(out.pixels);
    sg_image_free(&src);
}

static void test_fit_is_the_tensor(void **state) {
    (void)state;
    /* sg_image_fit's bytes are what sg_image_to_tensor converts: v/255·2-1 back to v exactly */
    sg_image img = make_frame(90, 60, 3), fitted;
    sg_error err = {0};
    for (int fit = SG_FIT_CROP; fit <= SG_FIT_STRETCH; fit++) {
        assert_int_equal(sg_image_fit(&img, (sg_fit)fit, 32, &fitted, &err), SG_OK);
        assert_int_equal(fitted.w, 32);
        assert_int_equal(fitted.h, 32);
        float buf[3 * 32 * 32];
        sg_tensor t = {.data = buf, .n = 1, .c = 3, .h = 32, .w = 32};
        assert_int_equal(sg_image_to_tensor(&img, (sg_fit)fit, 32, &t, 0, &err), SG_OK);
        sg_image back;
        assert_int_equal(sg_image_from_tensor(&t, 0, &back, &err), SG_OK);
        assert_memory_equal(back.pixels, fitted.pixels, 32 * 32 * 3);
        sg_image_free(&back);
        if (fit == SG_FIT_CROP) { /* the centred 60×60 square */
            sg_image r;
            assert_int_equal(sg_image_resize(&img, 15, 0, 60, 60, 32, 32, &r, &err), SG_OK);
            assert_memory_equal(r.pixels, fitted.pixels, 32 * 32 * 3);
            sg_image_free(&r);
        }
        sg_image_free(&fitted);
    }
    assert_int_equal(sg_image_fit(&img, SG_FIT_ALIGN, 32, &fitted, &err), SG_ERR_ARG);
    sg_image_free(&img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp4_memory),
        cmocka_unit_test(test_mp4_frame_at_page_end),
        cmocka_unit_test(test_mp4_file),
        cmocka_unit_test(test_file_equals_memory),
        cmocka_unit_test(test_unfinished_removed),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_webp),
        cmocka_unit_test(test_webp_file_merges_repeats),
        cmocka_unit_test(test_grid_by_hand),
        cmocka_unit_test(test_blit_fill_clip),
        cmocka_unit_test(test_extend),
        cmocka_unit_test(test_fit_is_the_tensor),
    };
    return TU_RUN_TESTS(tests, NULL, NULL);
}
