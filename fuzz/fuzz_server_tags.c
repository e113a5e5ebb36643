/* libFuzzer target: server tags (cairn_server_from_member and the Go-style
 * parsers under it). Serf tags are gossiped by any member, so every byte of
 * them is untrusted.
 *
 * Input format: fields separated by '\n'. The first field is the member
 * name; then key=value tags (a field without '=' is a key with an empty
 * value). At most FUZZ_MAX_TAGS tags are used. Each value is also fed to
 * cairn_atoi, cairn_split_host_port and cairn_server_parse_build directly.
 * cairn__server_check_member (the parse without the record) must reach the
 * same verdict and datacenter as cairn_server_from_member; the target
 * aborts when they differ. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cluster.h"
#include "cairn/server.h"
#include "servers/server_internal.h"

#define FUZZ_MAX_TAGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    cairn_tag tags[FUZZ_MAX_TAGS];
    size_t ntags = 0;
    char *save = NULL;
    char *name = strtok_r(buf, "\n", &save);
    if (name == NULL)
        name = buf;
    for (char *f; ntags < FUZZ_MAX_TAGS && (f = strtok_r(NULL, "\n", &save)) != NULL;) {
        char *eq = strchr(f, '=');
        const char *value = "";
        if (eq != NULL) {
            *eq = '\0';
            value = eq + 1;
        }
        tags[ntags++] = (cairn_tag){f, value};
        int64_t v;
        (void)cairn_atoi(value, &v);
        char host[64], port[64];
        (void)cairn_split_host_port(value, host, sizeof(host), port, sizeof(port), NULL);
        cairn_server_version ver;
        (void)cairn_server_parse_build(value, &ver, NULL);
    }
    cairn_member m = {.name = name, .tags = tags, .ntags = ntags, .status = 1};
    uint8_t ip[4] = {127, 0, 0, 1};
    cairn_addr_from_ip(ip, 4, 8301, &m.addr);
    cairn_server *s = NULL;
    cairn_diag diag = {0};
    int rc = cairn_server_from_member(&m, &s, &diag);
    const char *dc = NULL;
    if (cairn__server_check_member(&m, &dc, NULL) != rc ||
        (rc == 0 && strcmp(dc, s->datacenter) != 0))
        abort();
    if (rc == 0) {
        char str[1024];
        cairn_server_string(s, str, sizeof(str));
        cairn_server_info info;
        cairn_server_info_fill(s, &info);
        /* The key (the name) and the reference count. */
        if (cairn_server_refcount(s) != 1 || strcmp(cairn_server_key(s), s->name) != 0 ||
            !cairn_server_key_equal(s, s) || cairn_server_key_equal(s, NULL))
            abort();
        cairn_server_unref(s);
    }
    free(buf);
    return 0;
}
