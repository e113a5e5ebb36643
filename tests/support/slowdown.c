/* See slowdown.h. */
#include "slowdown.h"

#include <stdlib.h>

int cairn_test_slowdown(void)
{
    const char *env = getenv("CAIRN_TEST_SLOWDOWN");
    if (env == NULL || *env == '\0')
        return 1;
    char *end;
    long v = strtol(env, &end, 10);
    if (*end != '\0' || v < 1 || v > 1000)
        return 1;
    return (int)v;
}
