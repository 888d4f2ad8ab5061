#!/bin/bash
# make test-deb: the packages of build/deb on this machine's nginx.
#   mk/test-deb.sh ROOT DEB_DIR       (as root; make test-deb runs it)
#
#  1. lintian on the .changes (source and binaries): no error, no warning
#  2. the bad cases: make deb with an nginx-dev of another version than the
#     installed nginx, or with a version debian/changelog does not have;
#     apt-get install of a module built for another ABI
#  3. apt-get install ./build/deb/*.deb, then debian/tests/installed (the
#     enabled snippet, nginx -t, a MoA request through the shipped example
#     site, man moa-relabel, --version)
#  4. apt-get purge: nginx -t passes, no load_module of the module is left,
#     and the packages and /etc/nginx are as they were before step 3
#
# apt waits for the dpkg lock rather than failing when another apt runs.

set -euo pipefail

root=$1
deb=$2
pkgs="libnginx-mod-http-moa moa-tools"
tmp=$(mktemp -d /tmp/moa-test-deb.XXXXXX)
installed=

apt() {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
        -y -q "$@"
}

step() {
    echo "moa: test-deb: $*"
}

fail() {
    echo "moa: test-deb: FAIL: $*" >&2
    exit 1
}

# the installed packages and everything under /etc/nginx
state() {
    dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' | sort
    find /etc/nginx -printf '%p %y %l %m\n' | sort
}

cleanup() {
    if [ -n "$installed" ]; then
        step "purging after a failure: $installed"
        apt purge $installed >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}

trap cleanup EXIT

cd "$root"

for p in $pkgs; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
       | grep -q -v 'not-installed'; then
        fail "$p is installed already: test-deb installs and purges it" \
             "(apt-get purge $pkgs, then run it again)"
    fi
done


step "lintian"
lintian --fail-on error,warning "$deb"/src/*.changes \
    > "$tmp/lintian" 2>&1 \
    || { cat "$tmp/lintian"; fail "lintian"; }
grep -v '^running with root' "$tmp/lintian" | sed 's/^/    /' || true
step "lintian: no error, no warning; overridden, with the why in" \
     "debian/source/lintian-overrides:"
grep -h -v "^#" debian/source/lintian-overrides | sed "s/^/    /"


step "bad case: nginx-dev of another version than the installed nginx"
if make -s deb MOA_NGINX_DEV_VERSION=1.24.0-1 > "$tmp/bad" 2>&1; then
    fail "make deb built with a mismatching nginx-dev"
fi
nginx_version=$(dpkg-query -W -f='${Version}' nginx)
grep -q "nginx-dev 1.24.0-1 does not match the installed nginx $nginx_version" \
    "$tmp/bad" || { cat "$tmp/bad"; fail "no clear message"; }
sed -n 's/^/    /; /moa:/p' "$tmp/bad"
[ -f "$deb/libnginx-mod-http-moa_"*.deb ] \
    || fail "the refused make deb removed the built packages"

step "bad case: a version in the header that debian/changelog does not have"
if make -s deb MOA_VERSION=9.9.9 > "$tmp/bad" 2>&1; then
    fail "make deb built with a version debian/changelog does not have"
fi
grep -q "says 9.9.9 but debian/changelog says" "$tmp/bad" \
    || { cat "$tmp/bad"; fail "no clear message"; }
sed -n "s/^/    /; /moa:/p" "$tmp/bad"

step "bad case: the module built for another nginx ABI"
abi=$(dpkg-deb -f "$deb"/libnginx-mod-http-moa_*.deb Depends \
      | grep -o 'nginx-abi-[^ ,]*')
[ -n "$abi" ] || fail "no nginx-abi in Depends"
echo "    Depends: $(dpkg-deb -f "$deb"/libnginx-mod-http-moa_*.deb Depends)"
dpkg-deb -R "$deb"/libnginx-mod-http-moa_*.deb "$tmp/fake"
sed -i "s/$abi/nginx-abi-1.99.0-1/" "$tmp/fake/DEBIAN/control"
dpkg-deb -b "$tmp/fake" "$tmp/fake.deb" > /dev/null
if apt-get -s install "$tmp/fake.deb" > "$tmp/abi" 2>&1; then
    fail "apt would install a module built for nginx-abi-1.99.0-1"
fi
grep -q 'Depends: nginx-abi-1.99.0-1 but it is not installable' "$tmp/abi" \
    || { cat "$tmp/abi"; fail "apt's refusal does not name the ABI"; }
grep 'nginx-abi' "$tmp/abi" | sed 's/^/    /'


step "apt-get install ./build/deb/*.deb"
before=$(state)
installed=$pkgs
apt install "$deb"/*.deb > "$tmp/install" 2>&1 \
    || { cat "$tmp/install"; fail "apt-get install"; }
# the packages this install brought (dependencies too) go again with them
installed=$(comm -13 <(echo "$before" | awk '$1 == "ii" { print $2 }') \
                     <(state | awk '$1 == "ii" { print $2 }') | xargs)
step "installed: $installed"
for p in $pkgs; do
    case " $installed " in
    *" $p "*) ;;
    *) fail "$p was not installed" ;;
    esac
done

step "debian/tests/installed"
debian/tests/installed || fail "debian/tests/installed"


step "apt-get purge $installed"
apt purge $installed > "$tmp/purge" 2>&1 \
    || { cat "$tmp/purge"; fail "apt-get purge"; }
installed=

nginx -t -q || fail "nginx -t after the purge"
if grep -rs -l 'ngx_http_moa_module' /etc/nginx /usr/share/nginx; then
    fail "a load_module of the module is left"
fi
[ ! -e /usr/lib/nginx/modules/ngx_http_moa_module.so ] \
    || fail "the module is left in /usr/lib/nginx/modules"
after=$(state)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") || true
    fail "the packages or /etc/nginx differ from before the install"
fi
step "purged: nginx -t passes, no load_module left, packages and" \
     "/etc/nginx as before"
step "PASS"
