/* gossip_node: a native gossip node inside your program, with a callback
 * for member events.
 *
 * A cairn_agent is one Serf 0.9.4 member (a cairn_serf with the serf
 * agent's defaults; its tags travel as Serf tags). It runs on a cairn_loop,
 * here a libuv loop the application owns, and calls back on that loop's
 * thread when members join, change tags, fail or leave (several members
 * in one event: the agent coalesces them as serf's does, within 3 s).
 *
 *   gossip_node NAME BIND_IP[:PORT] [JOIN_IP:PORT]   one node, until Ctrl-C
 *   gossip_node                                    self-test: two nodes in
 *       this process join, then one leaves; exits 0 when the other saw it
 *
 * `serf agent -join=BIND_IP:PORT` or `serf members` work against it.
 *
 * Build: cc gossip_node.c $(pkg-config --cflags --libs cairn) -o gossip_node
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include <cairn/cairn.h>
#include <cairn/loop_uv.h>

struct node {
    const char *name;
    cairn_agent *agent;
    int joins, leaves; /* what this node has seen of others */
};

/* Events run on the loop thread; the members (name, address, tags) are
 * borrowed for the call. User events and queries are not used here. */
static void on_member(cairn_agent *agent, const cairn_event *ev, void *userdata)
{
    struct node *n = userdata;
    for (size_t k = 0; k < ev->nmembers; k++) {
        const cairn_member *m = &ev->members[k];
        char addr[CAIRN_ADDR_STRLEN];
        cairn_addr_format(&m->addr, true, addr, sizeof addr);
        printf("%s: %s %s %s", n->name, cairn_event_type_name(ev->type), m->name, addr);
        for (size_t i = 0; i < m->ntags; i++)
            printf(" %s=%s", m->tags[i].key, m->tags[i].value);
        printf("\n");
        fflush(stdout);
        if (strcmp(m->name, n->name) == 0)
            continue;
        if (ev->type == CAIRN_EVENT_MEMBER_JOIN)
            n->joins++;
        else if (ev->type == CAIRN_EVENT_MEMBER_LEAVE)
            n->leaves++;
    }
}

static int start_node(cairn_loop *loop, struct node *n, const char *bind)
{
    cairn_tag tags[] = {{"role", "example"}};
    cairn_agent_config cfg = {.node = n->name, .profile = "local", .tags = tags, .n_tags = 1};
    cairn_diag diag;
    cairn_diag_clear(&diag);
    /* "IP" alone binds port 0: the system picks a free port. */
    int rc = strchr(bind, ':') != NULL ? cairn_addr_parse(bind, 7946, &cfg.bind)
                                       : cairn_addr_parse_ip(bind, 0, &cfg.bind);
    if (rc == 0)
        rc = cairn_agent_new(loop, &cfg, NULL, on_member, n, &diag, &n->agent);
    if (rc != 0)
        fprintf(stderr, "gossip_node: %s: %s\n", n->name,
                diag.msg[0] ? diag.msg : cairn_strerror(rc));
    return rc;
}

static void on_joined(cairn_agent *agent, int status, int count, void *userdata)
{
    if (status != 0)
        fprintf(stderr, "gossip_node: join: %s\n", cairn_strerror(status));
}

static int join(struct node *n, const char *to)
{
    cairn_addr addr;
    int rc = cairn_addr_parse(to, 7946, &addr);
    return rc != 0 ? rc : cairn_agent_join(n->agent, &addr, 1, on_joined, NULL);
}

static void on_left(cairn_agent *agent, int status, int count, void *userdata)
{
    uv_stop(userdata);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    struct node *n = sig->data;
    uv_close((uv_handle_t *)sig, NULL);
    if (cairn_agent_leave(n->agent, on_left, sig->loop) != 0)
        uv_stop(sig->loop);
}

/* Runs the uv loop until cond holds or `ms` milliseconds have passed. */
static int run_until(uv_loop_t *uv, const int *count, int want, int ms)
{
    uint64_t end = uv_now(uv) + (uint64_t)ms;
    while (*count < want && uv_now(uv) < end)
        uv_run(uv, UV_RUN_ONCE);
    return *count >= want ? 0 : CAIRN_ETIMEDOUT;
}

int main(int argc, char **argv)
{
    uv_loop_t uv;
    cairn_loop *loop;
    if (uv_loop_init(&uv) != 0 || cairn_loop_new_uv(&uv, &loop) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN); /* as every libuv program does */
    int rc;
    struct node a = {.name = argc > 1 ? argv[1] : "a"}, b = {.name = "b"};

    if (argc > 2) { /* one node until Ctrl-C, then a graceful leave */
        uv_signal_t sig;
        rc = start_node(loop, &a, argv[2]);
        if (rc == 0 && argc > 3)
            rc = join(&a, argv[3]);
        if (rc == 0) {
            uv_signal_init(&uv, &sig);
            sig.data = &a;
            uv_signal_start_oneshot(&sig, on_signal, SIGINT);
            uv_run(&uv, UV_RUN_DEFAULT);
        }
    } else { /* self-test: b joins a, then leaves */
        cairn_ml_node self;
        char addr[CAIRN_ADDR_STRLEN];
        rc = start_node(loop, &a, "127.0.0.1");
        if (rc == 0)
            rc = start_node(loop, &b, "127.0.0.1");
        if (rc == 0) {
            cairn_memberlist_local_node(cairn_agent_memberlist(a.agent), &self);
            cairn_addr_format(&self.addr, true, addr, sizeof addr);
            rc = join(&b, addr);
        }
        if (rc == 0)
            rc = run_until(&uv, &a.joins, 1, 10000);
        if (rc == 0)
            rc = cairn_agent_leave(b.agent, NULL, NULL);
        if (rc == 0)
            rc = run_until(&uv, &a.leaves, 1, 10000);
        if (rc != 0)
            fprintf(stderr, "gossip_node: self-test: %s\n", cairn_strerror(rc));
    }
    cairn_agent_delete(a.agent);
    cairn_agent_delete(b.agent);
    cairn_loop_delete(loop);
    uv_run(&uv, UV_RUN_DEFAULT);
    uv_loop_close(&uv);
    return rc == 0 ? 0 : 1;
}
