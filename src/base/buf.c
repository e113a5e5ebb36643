/* Bounded growable buffer; growth doubles, never past the limit. */
#include "cairn/buf.h"
#include "cairn/alloc.h"
#include "cairn/error.h"

#include <string.h>

void cairn_buf_init(cairn_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void cairn_buf_destroy(cairn_buf *b)
{
    if (b == NULL)
        return;
    cairn_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int cairn_buf_reserve(cairn_buf *b, size_t n)
{
    if (n > b->limit || b->len > b->limit - n)
        return CAIRN_ELIMIT;
    size_t need = b->len + n;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->limit)
        cap = b->limit;
    uint8_t *p = cairn_realloc(b->data, cap);
    if (p == NULL)
        return CAIRN_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cairn_buf_append(cairn_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int r = cairn_buf_reserve(b, n);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void cairn_buf_consume(cairn_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void cairn_buf_reset(cairn_buf *b)
{
    b->len = 0;
}
