/* A mutex-protected FIFO of posted callbacks, shared by the loop backends. */
#ifndef CAIRN_LOOP_POST_QUEUE_H
#define CAIRN_LOOP_POST_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "cairn/loop.h"

struct cairn_post_item;

struct cairn_post_queue {
    pthread_mutex_t lock;
    struct cairn_post_item *head;
    struct cairn_post_item *tail;
    bool closed;
};

void cairn__post_queue_init(struct cairn_post_queue *q);
/* Frees queued items without running them and closes the queue. */
void cairn__post_queue_destroy(struct cairn_post_queue *q);
/* 0, CAIRN_ENOMEM, CAIRN_ESHUTDOWN. */
int cairn__post_queue_push(struct cairn_post_queue *q, cairn_post_cb cb, void *userdata);
/* Runs everything queued at the time of the call; returns how many ran. */
size_t cairn__post_queue_run(struct cairn_post_queue *q);

#endif
