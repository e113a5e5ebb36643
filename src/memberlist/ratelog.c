/* Rate-limited warnings: what a peer can make us log, it can make us log
 * at most once a second per kind (bad packets, stream errors, refused
 * streams, state-machine complaints), each line saying how many were left
 * out; every suppressed line is still counted (stats.log_suppressed). Go
 * logs every one: 67,000 bad packets wrote 12 MB of log (issue 8).
 */
#include "memberlist/ml_internal.h"

#include <stdarg.h>
#include <stdio.h>

void cairn__ml_ratelog(cairn_memberlist *ml, struct ml_ratelog *r, int level, const char *fmt, ...)
{
    cairn_time now = cairn_loop_now(ml->loop);
    if (now < r->next) {
        r->suppressed++;
        ml->stats.log_suppressed++;
        return;
    }
    r->next = now + ML_RATELOG_INTERVAL;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (r->suppressed)
        cairn_logf(&ml->log, level, ML_LOG, "%s (%llu similar suppressed)", line,
                   (unsigned long long)r->suppressed);
    else
        cairn_logf(&ml->log, level, ML_LOG, "%s", line);
    r->suppressed = 0;
}
