/* mt_client: worker threads pick a server for each RPC; the loop thread
 * keeps the server list current (what Consul's client RPC path does).
 *
 * A Manager holds one datacenter's servers. Any thread may call
 * cairn_manager_find_server (lock-free, copies the answer into the caller's
 * cairn_server_info) and cairn_manager_notify_failed_server (after a failed
 * RPC: the server goes to the back of the list). Server additions and
 * removals, the periodic rebalance and its pings belong to the loop thread.
 *
 * As in Consul, every caller uses the server at the front of the list
 * until it fails (clients spread the load by each shuffling their own list
 * at the periodic rebalance). Here NWORKERS threads each make NCALLS
 * simulated RPCs. s1 is at the front and fails every RPC: the workers report
 * it, it moves to the back, and s2 takes the calls. Then the loop thread
 * applies what Serf would report: s2 leaves, s6 joins; s3 takes over. In a
 * real client the servers come from a Router or a serf adapter, and the
 * pinger is cairn_pinger_tcp.
 *
 * Build: cc mt_client.c $(pkg-config --cflags --libs cairn) -o mt_client
 */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include <cairn/cairn.h>
#include <cairn/loop_uv.h>

#define NWORKERS 4
#define NCALLS   5000
#define NSERVERS 7 /* s1..s6 and spare room */

struct app {
    cairn_loop *loop;
    cairn_manager *manager;
    cairn_timer *change;
    atomic_int workers_left;
    atomic_long calls[NSERVERS], failures;
};

/* The cluster seam: a Manager only asks how many nodes the pool has (it
 * scales the rebalance interval with it). */
static size_t num_nodes(void *impl)
{
    return 5;
}
static int for_each_member(void *impl, cairn_member_cb fn, void *userdata)
{
    return 0;
}
static int get_coordinate(void *impl, cairn_coord *ret_coord)
{
    return CAIRN_ENOTSUP;
}
static bool get_cached_coordinate(void *impl, const char *name, cairn_coord *ret_coord)
{
    return false;
}
static const cairn_cluster_ops cluster_ops = {num_nodes, for_each_member, get_coordinate,
                                              get_cached_coordinate};

/* A pinger that says every server is up (use cairn_pinger_tcp for real). */
static int ping(void *impl, const char *dc, const char *name, const cairn_addr *addr,
                cairn_ping_done_cb done, void *token)
{
    done(true, 0, token);
    return 0;
}
static void cancel(void *impl, void *token)
{
}
static const cairn_pinger_ops pinger_ops = {ping, cancel};

/* A server record from a Serf member's tags, as the serf adapter makes one. */
static int add_server(cairn_manager *m, int i)
{
    char name[32], port[16];
    snprintf(name, sizeof name, "s%d.dc1", i);
    snprintf(port, sizeof port, "%d", 8300 + i);
    cairn_tag tags[] = {
        {"role", "consul"}, {"dc", "dc1"}, {"port", port}, {"build", "1.18.0"}, {"vsn", "3"}};
    cairn_member member = {.name = name, .tags = tags, .ntags = 5, .status = CAIRN_MEMBER_ALIVE};
    uint8_t ip[4] = {127, 0, 0, 1};
    cairn_addr_from_ip(ip, 4, 8301, &member.addr);
    cairn_server *s;
    int rc = cairn_server_from_member(&member, &s, NULL);
    if (rc != 0)
        return rc;
    rc = cairn_manager_add_server(m, s); /* the manager takes its own reference */
    cairn_server_unref(s);
    return rc;
}

/* A simulated RPC of 50 us; s1 is broken. */
static bool rpc(const cairn_server_info *server)
{
    nanosleep(&(struct timespec){.tv_nsec = 50000}, NULL);
    return strcmp(server->name, "s1.dc1") != 0;
}

static void all_done(void *userdata)
{
    struct app *app = userdata;
    uv_stop(cairn_loop_uv_get(app->loop));
}

static void *worker(void *arg)
{
    struct app *app = arg;
    for (int i = 0; i < NCALLS; i++) {
        cairn_server_info server;
        if (cairn_manager_find_server(app->manager, &server) != 0)
            continue; /* no server at the moment: a real client would wait */
        int idx = server.name[1] - '0';
        atomic_fetch_add(&app->calls[idx], 1);
        if (!rpc(&server)) {
            atomic_fetch_add(&app->failures, 1);
            cairn_manager_notify_failed_server(app->manager, server.name);
        }
    }
    if (atomic_fetch_sub(&app->workers_left, 1) == 1)
        cairn_loop_post(app->loop, all_done, app); /* thread-safe */
    return NULL;
}

/* On the loop thread: s2 leaves the pool and s6 joins it. */
static void on_change(cairn_timer *t, void *userdata)
{
    struct app *app = userdata;
    cairn_manager_remove_server(app->manager, "s2.dc1");
    add_server(app->manager, 6);
}

int main(void)
{
    /* libuv streams write with write(2): a peer that hung up must not kill
     * us with SIGPIPE (cairn/loop_uv.h). */
    signal(SIGPIPE, SIG_IGN);
    static struct app app;
    uv_loop_t uv;
    if (uv_loop_init(&uv) != 0 || cairn_loop_new_uv(&uv, &app.loop) != 0)
        return 1;
    cairn_cluster cluster = {&cluster_ops, NULL};
    cairn_pinger pinger = {&pinger_ops, NULL};
    cairn_manager_config cfg = {
        .loop = app.loop, .cluster = &cluster, .pinger = &pinger, .seed = 42};
    int rc = cairn_manager_new(&cfg, &app.manager);
    for (int i = 1; i <= 5 && rc == 0; i++)
        rc = add_server(app.manager, i);
    if (rc == 0)
        rc = cairn_timer_new(app.loop, on_change, &app, &app.change);
    if (rc != 0) {
        fprintf(stderr, "mt_client: %s\n", cairn_strerror(rc));
        return 1;
    }
    cairn_manager_start(app.manager); /* periodic rebalance on this loop */
    cairn_timer_start(app.change, 50 * CAIRN_MSEC);

    pthread_t threads[NWORKERS];
    atomic_store(&app.workers_left, NWORKERS);
    for (int i = 0; i < NWORKERS; i++)
        pthread_create(&threads[i], NULL, worker, &app);
    uv_run(&uv, UV_RUN_DEFAULT); /* until the last worker posts all_done */
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(threads[i], NULL);

    long total = 0;
    for (int i = 1; i < NSERVERS; i++) {
        printf("s%d.dc1: %ld calls\n", i, atomic_load(&app.calls[i]));
        total += atomic_load(&app.calls[i]);
    }
    size_t nservers = cairn_manager_num_servers(app.manager);
    printf("%ld calls, %ld failed; %zu servers now\n", total, atomic_load(&app.failures), nservers);

    cairn_timer_delete(app.change);
    cairn_manager_delete(app.manager);
    cairn_loop_delete(app.loop);
    uv_run(&uv, UV_RUN_DEFAULT);
    uv_loop_close(&uv);
    /* Every call found a server, the broken one was rotated away at once
     * (a worker fails on it about once), and calls moved to s2, then
     * to s3 when s2 left. */
    bool ok = total == (long)NWORKERS * NCALLS && atomic_load(&app.failures) < 100 &&
              atomic_load(&app.calls[2]) > 0 && atomic_load(&app.calls[3]) > 0 && nservers == 5;
    return ok ? 0 : 1;
}
