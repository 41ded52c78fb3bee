#!/usr/bin/perl
# The README's two commands are the project's contract with a new machine:
# .ci/run must run exactly the README's test command, and the development
# command must start viaduct on the shipped development config.
use strict;
use warnings;
use Test::More;
use FindBin;

my $top = "$FindBin::Bin/..";
sub slurp { open(my $fh, '<', $_[0]) or die "$_[0]: $!"; local $/; <$fh> }
my $readme = slurp("$top/README");
my $ci = slurp("$top/.ci/run");

my ($dev) = $readme =~ /^    (apt-get .*viaduct -F -f conf\/dev\.conf)$/m;
ok($dev, "README gives the development command first");
like($dev // '', qr/apt-get install .*libpcre2-dev.*liblmdb-dev.*libcap-dev.*libc-ares-dev.*libxxhash-dev/,
    "the development command installs every library configure needs");

my ($rtest) = $readme =~ /^(    printf .*?make [-a-z ]*check\))$/ms;
my ($ctest) = $ci =~ /^(printf .*?make [-a-z ]*check\))$/ms;
ok($rtest && $ctest, "README and .ci/run both hold the test command");
(my $r = $rtest // '') =~ s/^    //mg;
is($r, $ctest // '', ".ci/run runs exactly the README's test command");
like($r, qr/--enable-sanitizers/, "the test command also runs the suite under the sanitizers");
like($r, qr/make distcheck/, "the test command runs make distcheck");

my $dconf = slurp("$top/conf/dev.conf");
like($dconf, qr/port=8080/, "dev.conf listens on port 8080");
like($dconf, qr/listen-address=127\.0\.0\.1/, "dev.conf listens on 127.0.0.1");
like($dconf, qr/cache-path=var\//, "dev.conf keeps the cache under ./var");

# every test and helper ships in the tarball, or `make distcheck` would
# silently run fewer tests than a checkout
my $am = join('', map { slurp($_) } glob("$top/Makefile.am $top/*/*.am $top/*/*/*.am"));
for my $f (map { s{^\Q$top\E/}{}r } glob("$top/t/*.t $top/t/lib/Viaduct/*.pm")) {
	like($am, qr/\Q$f\E/, "$f is distributed (EXTRA_DIST)");
}
done_testing();
