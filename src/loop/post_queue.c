/* Posted work: producers on any thread append under a mutex; the loop thread
 * detaches the whole list at once and runs it outside the lock, so a callback
 * may post again without deadlock. */
#include "loop/post_queue.h"
#include "cairn/alloc.h"
#include "cairn/error.h"

struct cairn_post_item {
    struct cairn_post_item *next;
    cairn_post_cb cb;
    void *userdata;
};

void cairn__post_queue_init(struct cairn_post_queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    q->head = q->tail = NULL;
    q->closed = false;
}

void cairn__post_queue_destroy(struct cairn_post_queue *q)
{
    pthread_mutex_lock(&q->lock);
    struct cairn_post_item *it = q->head;
    q->head = q->tail = NULL;
    q->closed = true;
    pthread_mutex_unlock(&q->lock);
    while (it != NULL) {
        struct cairn_post_item *next = it->next;
        cairn_free(it);
        it = next;
    }
    pthread_mutex_destroy(&q->lock);
}

int cairn__post_queue_push(struct cairn_post_queue *q, cairn_post_cb cb, void *userdata)
{
    struct cairn_post_item *it = cairn_malloc(sizeof(*it));
    if (it == NULL)
        return CAIRN_ENOMEM;
    it->next = NULL;
    it->cb = cb;
    it->userdata = userdata;
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        cairn_free(it);
        return CAIRN_ESHUTDOWN;
    }
    if (q->tail != NULL)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

size_t cairn__post_queue_run(struct cairn_post_queue *q)
{
    pthread_mutex_lock(&q->lock);
    struct cairn_post_item *it = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    size_t n = 0;
    while (it != NULL) {
        struct cairn_post_item *next = it->next;
        it->cb(it->userdata);
        cairn_free(it);
        it = next;
        n++;
    }
    return n;
}
