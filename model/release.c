/* The StarGAN v2 release layout: what the published checkpoints hold and what their networks'
 * tensors are called. The checkpoint reader (ckpt.c) knows torch.save; this file knows the
 * release: which entries are networks, which face-network keys belong to a larger FAN than the
 * one StarGAN v2 uses, and the domain names of the two published models. */
#include "model_internal.h"

#include <string.h>

/* The entries of a release checkpoint that inference needs (a step counter, a discriminator or
 * optimiser state may sit beside them). The entry name is also the tensors' prefix. */
static const char *const release_nets[] = {"generator", "mapping_network", "style_encoder"};

const char *sg_release_net(size_t i) {
    return i < sizeof release_nets / sizeof release_nets[0] ? release_nets[i] : NULL;
}

/* Layers of a larger FAN than the one-hourglass network StarGAN v2 uses (release wing.ckpt
 * holds them; the reference keeps only the keys its model has): m<k>, top_m_<k>,
 * conv_last<k>, bn_end<k>, l<k> for k ≥ 1, and the inter-module bl<k>, al<k>. */
bool sg_release_fan_ignored(const char *key) {
    static const struct {
        const char *stem;
        int min_k;
    } stems[] = {{"top_m_", 1}, {"conv_last", 1}, {"bn_end", 1}, {"m", 1},
                 {"l", 1},      {"bl", 0},        {"al", 0}};
    for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++) {
        size_t n = strlen(stems[i].stem);
        if (strncmp(key, stems[i].stem, n) != 0) continue;
        const char *p = key + n;
        long k = 0;
        if (*p < '0' || *p > '9') continue;
        while (*p >= '0' && *p <= '9' && k < 100000) k = k * 10 + (*p++ - '0');
        if (*p == '.' && k >= stems[i].min_k) return true;
    }
    return false;
}

const char *sg_release_domains(int num_domains) {
    if (num_domains == 2) return SG_RELEASE_DOMAINS_CELEBA_HQ;
    if (num_domains == 3) return SG_RELEASE_DOMAINS_AFHQ;
    return NULL;
}
