/* media_probe: what the shell tests need to look inside images and videos.
 *   media_probe region BIG X Y SMALL   exit 0 iff SMALL equals BIG's region at (X, Y) pixel for
 *                                      pixel (PNG/JPEG; prints the first difference otherwise)
 *   media_probe size IMG               prints "W H"
 *   media_probe diff A B               prints "values N differ D max L" for two images of one size
 *                                      (D values differ, by at most L levels); exit 2 otherwise
 *   media_probe video FILE             prints "frames N size WxH duration_ms D" (MP4 through
 *                                      libavformat/libavcodec, WebP through libwebp's demuxer;
 *                                      N counts decoded frames, WebP merges repeats)
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/demux.h>

#include "../../image/image.h"

static int load(const char *p, sg_image *img) {
    sg_error err = {0};
    if (sg_image_load(p, SG_IMAGE_DEFAULT_MAX_PIXELS, 0, img, &err)) {
        fprintf(stderr, "media_probe: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int region_cmp(const char *big, int x0, int y0, const char *small, sg_image *pa,
                      sg_image *pb);
static int region(const char *big, int x0, int y0, const char *small) {
    sg_image a = {0}, b = {0};
    int r = region_cmp(big, x0, y0, small, &a, &b);
    sg_image_free(&a), sg_image_free(&b);
    return r;
}

static int region_cmp(const char *big, int x0, int y0, const char *small, sg_image *pa,
                      sg_image *pb) {
    if (load(big, pa) || load(small, pb)) return 2;
    const sg_image a = *pa, b = *pb;
    if (x0 < 0 || y0 < 0 || x0 + b.w > a.w || y0 + b.h > a.h) {
        fprintf(stderr, "media_probe: %dx%d at (%d, %d) is outside %dx%d\n", b.w, b.h, x0, y0, a.w,
                a.h);
        return 1;
    }
    for (int y = 0; y < b.h; y++)
        for (int x = 0; x < b.w; x++)
            for (int c = 0; c < 3; c++) {
                int u = a.pixels[((size_t)(y0 + y) * a.w + x0 + x) * 3 + c];
                int v = b.pixels[((size_t)y * b.w + x) * 3 + c];
                if (u != v) {
                    fprintf(stderr, "media_probe: differ at (%d, %d) channel %d: %d vs %d\n", x, y,
                            c, u, v);
                    return 1;
                }
            }
    return 0;
}

static int video_webp(const uint8_t *b, size_t n) {
    WebPData data = {b, n};
    WebPAnimDecoderOptions o;
    WebPAnimDecoderOptionsInit(&o);
    WebPAnimDecoder *d = WebPAnimDecoderNew(&data, &o);
    if (!d) return fprintf(stderr, "media_probe: not an animated WebP\n"), 1;
    WebPAnimInfo info;
    WebPAnimDecoderGetInfo(d, &info);
    int frames = 0, ts = 0;
    uint8_t *px;
    while (WebPAnimDecoderHasMoreFrames(d) && WebPAnimDecoderGetNext(d, &px, &ts)) frames++;
    printf("frames %d size %ux%u duration_ms %d\n", frames, info.canvas_width, info.canvas_height,
           ts);
    WebPAnimDecoderDelete(d);
    return 0;
}

static int video(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return perror(path), 2;
    uint8_t head[12] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    if (got == 12 && !memcmp(head, "RIFF", 4) && !memcmp(head + 8, "WEBP", 4)) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *b = malloc((size_t)n);
        if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) return fclose(f), 2;
        fclose(f);
        int r = video_webp(b, (size_t)n);
        free(b);
        return r;
    }
    fclose(f);
    AVFormatContext *fc = NULL;
    if (avformat_open_input(&fc, path, NULL, NULL) < 0 || avformat_find_stream_info(fc, NULL) < 0)
        return fprintf(stderr, "media_probe: cannot read %s\n", path), 1;
    AVStream *st = fc->streams[0];
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    AVCodecContext *cc = avcodec_alloc_context3(dec);
    avcodec_parameters_to_context(cc, st->codecpar);
    if (avcodec_open2(cc, dec, NULL) < 0) return 1;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    int frames = 0;
    for (int eof = 0; !eof;) {
        if (av_read_frame(fc, pkt) < 0) {
            eof = 1;
            avcodec_send_packet(cc, NULL);
        } else {
            avcodec_send_packet(cc, pkt);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(cc, fr) == 0) frames++;
    }
    long ms = st->duration > 0 ? (long)(st->duration * av_q2d(st->time_base) * 1000 + 0.5) : -1;
    printf("frames %d size %dx%d duration_ms %ld\n", frames, cc->width, cc->height, ms);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&cc);
    avformat_close_input(&fc);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "region"))
        return region(argv[2], atoi(argv[3]), atoi(argv[4]), argv[5]);
    if (argc == 3 && !strcmp(argv[1], "size")) {
        sg_image a;
        if (load(argv[2], &a)) return 2;
        printf("%d %d\n", a.w, a.h);
        sg_image_free(&a);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "video")) return video(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "diff")) {
        sg_image a, b;
        if (load(argv[2], &a)) return 2;
        if (load(argv[3], &b)) return sg_image_free(&a), 2;
        int rc = 2;
        if (a.w == b.w && a.h == b.h) {
            const size_t n = (size_t)a.w * a.h * 3;
            size_t d = 0;
            int mx = 0;
            for (size_t i = 0; i < n; i++) {
                const int e = abs((int)a.pixels[i] - (int)b.pixels[i]);
                d += e != 0, mx = e > mx ? e : mx;
            }
            printf("values %zu differ %zu max %d\n", n, d, mx);
            rc = 0;
        } else fprintf(stderr, "media_probe: %dx%d and %dx%d\n", a.w, a.h, b.w, b.h);
        sg_image_free(&a), sg_image_free(&b);
        return rc;
    }
    fprintf(stderr, "usage: media_probe region BIG X Y SMALL | size IMG | video FILE | diff A B\n");
    return 2;
}
