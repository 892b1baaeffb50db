#!/bin/sh
set -eu
echo "starting $HOSTNAME"
	exec /app --flag
