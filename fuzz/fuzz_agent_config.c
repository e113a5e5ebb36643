/* libFuzzer target: bytes as a serf agent configuration file, merged twice
 * into one configuration (so merges of every key meet), as a tags file
 * (encoded back and decoded again: the same tags) and as a keyring file
 * (encoded back and decoded again: the same keys, primary first). These
 * are local files, not peer input, but the agent reads them at start and
 * on every SIGHUP. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/alloc.h"
#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char why[512];
    cairn_agent_file_config *fc = malloc(sizeof(*fc));
    if (!fc)
        return 0;
    cairn__agent_config_init(fc);
    for (int i = 0; i < 2; i++)
        if (cairn__agent_config_parse(fc, text, size, "fuzz.json", why, sizeof(why)) < 0)
            break;
    if (fc->n_tags > CAIRN_AGENT_MAX_TAGS || fc->n_start_join > CAIRN_AGENT_CONFIG_JOINS_MAX)
        abort();
    cairn__agent_config_destroy(fc);
    free(fc);

    cairn_tag tags[16], back[16];
    size_t n, m;
    if (cairn__agent_tags_parse(text, size, tags, 16, &n, why, sizeof(why)) == 0) {
        char *enc = cairn__agent_tags_encode(tags, n);
        if (enc) {
            if (cairn__agent_tags_parse(enc, strlen(enc), back, 16, &m, why, sizeof(why)) < 0 ||
                m != n)
                abort();
            cairn__agent_tags_free(back, m);
            cairn_free(enc);
        }
        cairn__agent_tags_free(tags, n);
    }

    cairn_keyring *ring, *again;
    if (cairn__agent_keyring_parse(text, size, &ring, why, sizeof(why)) == 0) {
        char *enc = cairn__agent_keyring_encode(ring);
        if (enc) {
            if (cairn__agent_keyring_parse(enc, strlen(enc), &again, why, sizeof(why)) < 0)
                abort();
            if (cairn_keyring_count(again) != cairn_keyring_count(ring))
                abort();
            const uint8_t *a, *b;
            size_t la, lb;
            if (cairn_keyring_key(ring, 0, &a, &la) < 0 ||
                cairn_keyring_key(again, 0, &b, &lb) < 0 || la != lb || memcmp(a, b, la) != 0)
                abort();
            cairn_keyring_delete(again);
            cairn_free(enc);
        }
        cairn_keyring_delete(ring);
    }
    return 0;
}
