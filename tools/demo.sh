#!/bin/sh
# make demo: runs the main job. Until the agent exists this is the router
# demo over an in-memory cluster of three datacenters.
set -eu
BUILD=${1:-build}
exec "$BUILD/demo_router"
