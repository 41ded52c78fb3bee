#!/usr/bin/perl
# `make install` puts each file where an operator looks for it, and never
# overwrites the operator's viaduct.conf; `make uninstall` leaves an edited one.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Find;
use File::Temp qw(tempdir);
use Test::More;
use Viaduct::Test;

my $build = $ENV{VIADUCT_BUILD} // "$FindBin::Bin/..";
my $dest = tempdir('viaduct-install-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub make { my @a = @_; my $out = `make -s -C '$build' @a DESTDIR='$dest' 2>&1`; return ($? >> 8, $out) }
sub installed {
	my %f;
	find(sub { $f{ $File::Find::name =~ s{^\Q$dest\E}{}r } = 1 if -f $_ }, $dest);
	return \%f;
}

my ($rc, $out) = make('install');
is($rc, 0, 'make install: exit 0') or diag($out);
my $f = installed();
my ($sbin) = grep { m{/sbin/viaduct$} } keys %$f;
ok($sbin, 'viaduct is installed in sbindir') or diag(join "\n", sort keys %$f);
ok(scalar(grep { m{/bin/viaductctl$} && !m{/sbin/} } keys %$f), 'viaductctl is installed in bindir');
for my $m (qw(man8/viaduct.8 man5/viaduct.conf.5 man8/viaductctl.8)) {
	ok(scalar(grep { m{/man/\Q$m\E$} } keys %$f), "$m is installed");
}
my ($conf) = grep { m{/viaduct/viaduct\.conf$} } keys %$f;
ok($conf, 'viaduct.conf is installed in sysconfdir/viaduct');
if ($conf) {
	my $path = "$dest$conf";
	is(slurp($path), slurp("$FindBin::Bin/../conf/viaduct.conf"), 'it is the shipped conf/viaduct.conf');
	my $bin = "$dest$sbin";
	my $chk = `'$bin' -t -f '$path' 2>&1`;
	is($? >> 8, 0, 'the installed binary accepts the installed config') or diag($chk);

	spew($path, slurp($path) . "# edited by the operator\n");
	($rc, $out) = make('install');
	is($rc, 0, 'make install again: exit 0') or diag($out);
	like(slurp($path), qr/# edited by the operator\n\z/, "a second install keeps the operator's file");
	($rc, $out) = make('uninstall');
	ok(-f $path && !-e "$dest$sbin", "uninstall removes the programs but keeps the edited config");
}
done_testing();
