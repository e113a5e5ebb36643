/* cairn/cairn.h: everything public, in one include. */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include "cairn/error.h"
#include "cairn/alloc.h"
#include "cairn/log.h"
#include "cairn/rng.h"
#include "cairn/time.h"
#include "cairn/buf.h"
#include "cairn/addr.h"
#include "cairn/loop.h"
#include "cairn/coord.h"
#include "cairn/cluster.h"
#include "cairn/pinger.h"

#endif
