#!/bin/sh
# The container's entrypoint: `web`, `worker` or `release` runs that line of the Procfile (with
# $PORT expanded by the shell, as a Procfile runner does); anything else runs as given.
set -eu
if [ "$#" -eq 1 ]; then
  line=$(sed -n "s/^$1:[[:space:]]*//p" Procfile)
  if [ -n "$line" ]; then
    exec sh -c "exec $line"
  fi
fi
exec "$@"
