# The layering (ARCHITECTURE.md): `make check-layers` passes on the module
# as built, and the checker itself fails on a call upwards, on a call
# circle and on an nginx header in pure code (a tiny tree made here).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/..');
my $check = "$root/tools/check-layers";

my $out = `make -s -C '$root' check-layers 2>&1`;
is($?, 0, 'make check-layers passes') or diag($out);
like($out, qr/all downwards/, 'check-layers says what it checked');

# a fake build: objects whose names are the module's, with calls of our
# choosing, and a fake source tree for the include check
sub fake {
    my (%files) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my %src = (lib => 'lib', openai => 'ngx_http_moa_module/openai',
               ngx_http_moa_module => 'ngx_http_moa_module');
    for my $name (keys %files) {
        my ($sub, $file) = split m{/}, $name;
        make_path("$dir/build/addon/$sub", "$dir/src/$src{$sub}");
        my $c = "$dir/src/$src{$sub}/$file.c";
        open my $fh, '>', $c or die "$c: $!";
        print $fh $files{$name};
        close $fh;
        system("cc -c -o $dir/build/addon/$sub/$file.o $c") == 0
            or die "cc $c";
    }
    return $dir;
}

sub check {
    my ($dir) = @_;
    my $out = `perl '$check' '$dir/build' '$dir/src' 2>&1`;
    return ($? >> 8, $out);
}

my $dir = fake(
    'lib/ngx_http_moa_buf' => "void ngx_http_moa_buf_add(void) {}\n",
    'ngx_http_moa_module/ngx_http_moa_handler' =>
        "void ngx_http_moa_buf_add(void);\n"
        . "void ngx_http_moa_handler(void) { ngx_http_moa_buf_add(); }\n",
);
my ($rc, $msg) = check($dir);
is($rc, 0, 'a call downwards passes') or diag($msg);

$dir = fake(
    'lib/ngx_http_moa_buf' =>
        "void ngx_http_moa_handler(void);\n"
        . "void ngx_http_moa_buf_add(void) { ngx_http_moa_handler(); }\n",
    'ngx_http_moa_module/ngx_http_moa_handler' => "void ngx_http_moa_handler(void) {}\n",
);
($rc, $msg) = check($dir);
isnt($rc, 0, 'a call upwards fails');
like($msg, qr/buf \(layer 0\) calls ngx_http_moa_handler of handler/,
     'and names the call');

$dir = fake(
    'ngx_http_moa_module/ngx_http_moa_filter' =>
        "void ngx_http_moa_variables(void);\n"
        . "void ngx_http_moa_filter(void) { ngx_http_moa_variables(); }\n",
    'ngx_http_moa_module/ngx_http_moa_variables' =>
        "void ngx_http_moa_filter(void);\n"
        . "void ngx_http_moa_variables(void) { ngx_http_moa_filter(); }\n",
);
($rc, $msg) = check($dir);
like($msg, qr/call circle: (filter -> variables -> filter|variables -> filter -> variables)/,
     'a call circle between two files of one layer fails');

$dir = fake(
    'lib/ngx_http_moa_buf' => "void ngx_http_moa_buf_add(void) {}\n",
    'ngx_http_moa_module/ngx_http_moa_nosuch' =>
        "void ngx_http_moa_nosuch(void) {}\n",
);
($rc, $msg) = check($dir);
like($msg, qr/nosuch: not in the layer table/, 'an unknown file fails');

# the object of a file since deleted is not the module's any more
unlink "$dir/src/ngx_http_moa_module/ngx_http_moa_nosuch.c";
($rc, $msg) = check($dir);
is($rc, 0, 'an object without its source is left out') or diag($msg);

$dir = fake('lib/ngx_http_moa_buf' => "void ngx_http_moa_buf_add(void) {}\n");
open my $fh, '>', "$dir/src/lib/ngx_http_moa_buf.h" or die;
print $fh "#include <ngx_core.h>\n";
close $fh;
($rc, $msg) = check($dir);
like($msg, qr/a pure file includes ngx_core\.h/,
     'an nginx header in pure code fails');

done_testing();
