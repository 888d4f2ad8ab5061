#!/usr/bin/perl

# The cheap part of the Debian packaging, in every `make test` (the whole
# build, install and purge is `make test-deb`, mk/test-deb.sh): one version
# for everything.  lib/ngx_http_moa_version.h holds it; debian/changelog's
# top entry must say the same (debian/rules refuses to build otherwise),
# and moa-relabel --version and the module take it from the header.
#
# Environment: MOA_BUILD (build directory, default <repo>/build).

use strict;
use warnings;

use Cwd qw(abs_path);
use FindBin;
use Test::More;

my $root = abs_path("$FindBin::Bin/..");
my $build = $ENV{MOA_BUILD} // "$root/build";
my $bin = "$build/moa-relabel";

sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "$file: $!\n";
    local $/;
    return <$fh>;
}

my ($version) = slurp("$root/lib/ngx_http_moa_version.h")
    =~ /^#define NGX_HTTP_MOA_VERSION "([0-9][0-9A-Za-z.+~]*)"$/m;
ok(defined $version, 'lib/ngx_http_moa_version.h defines the version')
    or BAIL_OUT('no version');

# "libnginx-mod-http-moa (0.1.0) unstable; urgency=medium": a native
# package, so no Debian revision
my ($source, $deb) = slurp("$root/debian/changelog")
    =~ /\A(\S+) \(([^)]+)\) /;
is($source, 'libnginx-mod-http-moa', 'debian/changelog: the source package');
is($deb, $version, "debian/changelog's top entry is $version");

like(slurp("$root/ngx_http_moa_module/ngx_http_moa_common.h"),
     qr/^#include "ngx_http_moa_version.h"/m,
     'the module takes its version from the header');

my $log = `make -s -f '$root/mk/relabel.mk' ROOT='$root' \\
           BUILD='$build' '$bin' 2>&1`;
is($?, 0, 'build moa-relabel') or diag($log);
like(`'$bin' --version`, qr/\Amoa-relabel \Q$version\E \(libcurl\//,
     "moa-relabel --version says $version");

# the man page is the one the package installs
like(slurp("$root/man/moa-relabel.1"), qr/^\.TH MOA-RELABEL 1 /m,
     'man/moa-relabel.1');
like(slurp("$root/debian/moa-tools.manpages"), qr/^man\/moa-relabel\.1$/m,
     'moa-tools installs man/moa-relabel.1');

# moa-eval: the same version, its man page and binary in moa-tools
$log = `make -s -f '$root/mk/eval.mk' ROOT='$root' BUILD='$build' \\
        '$build/moa-eval' 2>&1`;
is($?, 0, 'build moa-eval') or diag($log);
like(`'$build/moa-eval' --version`, qr/\Amoa-eval \Q$version\E \(/,
     "moa-eval --version says $version");
like(slurp("$root/man/moa-eval.1"), qr/^\.TH MOA-EVAL 1 /m, 'man/moa-eval.1');
like(slurp("$root/debian/moa-tools.manpages"), qr/^man\/moa-eval\.1$/m,
     'moa-tools installs man/moa-eval.1');
like(slurp("$root/debian/moa-tools.install"), qr/^usr\/bin\/moa-eval$/m,
     'moa-tools installs moa-eval');

done_testing();
