#!/bin/sh
# mmdebstrap customize hook ($1 = the new root): what dpkg.cfg keeps out of later installs,
# removed from the packages mmdebstrap unpacked before that config applied (as the official
# images' debuerreotype-slimify does), plus apt's package lists and the build's logs.
set -eu
root=$1
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
for dir in info groff linda lintian locale man; do
  rm -rf "${root:?}/usr/share/$dir"/*
done
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/apt/* "$root"/var/log/*.log
# The build machine's name and resolver: container runtimes provide their own.
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
