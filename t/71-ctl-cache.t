#!/usr/bin/perl
# viaductctl cache-contents (pattern, --sort with --limit, --json) and purge
# (URL, --match REGEX) on a cache filled through cache_store's API by
# t/ctl_cache_fill, on a stopped node and with viaduct running.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Viaduct::Test;

my $json = JSON::PP->new;
my $ctl = viaductctl_bin();
(my $fill = $ctl) =~ s{src/viaductctl$}{t/ctl_cache_fill};
ok(-x $fill, 'the fill helper is built') or BAIL_OUT("no $fill");

my $dir = tmpdir_keep();
my $conf = default_conf();
$conf =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited};
$conf =~ s/\@DIR\@/$dir/g;
$conf =~ s/\@PORT\@/free_port()/ge;
my $cf = "$dir/viaduct.conf";
spew($cf, $conf);
mkdir "$dir/cache";

my $T = 1700000000;
my @obj = (	# url, size, accessed, last-modified, expires
	[ 'http://a.test/one.html', 300, $T + 30, $T - 1000, $T + 86400 ],
	[ 'http://a.test/two.iso', 5000, $T + 10, 0, 0 ],
	[ 'http://b.test/big.iso', 9000, $T + 20, $T - 5, $T + 60 ],
	[ 'http://c.test/small', 10, $T + 40, 0, $T + 1 ],
);
my $filled = time;
my ($st, $out, $err) = run_cmd([$fill, "$dir/cache", map { @$_ } @obj]);
is($st, 0, 'filled the store') or diag($err);

sub iso { $_[0] ? strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) : '-' }
sub contents {
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, 'cache-contents', @_, '--json']);
	is($st, 0, "cache-contents @_: exit 0") or diag($err);
	return eval { $json->decode($out) } // [];
}
sub uris { join ' ', map { $_->{uri} } @{ $_[0] } }

{
	my $c = contents();
	is(scalar @$c, 4, 'stopped node: four objects');
	my %by = map { $_->{uri} => $_ } @$c;
	for my $o (@obj) {
		my $e = $by{ $o->[0] };
		ok($e, "$o->[0] listed") or next;
		is($e->{'file-size'}, $o->[1], "$o->[0]: file-size");
		is($e->{'last-accessed'}, iso($o->[2]), "$o->[0]: last-accessed");
		is($e->{'last-modified'}, iso($o->[3]), "$o->[0]: last-modified");
		is($e->{expires}, iso($o->[4]), "$o->[0]: expires");
	}
	is(uris(contents('http://a.test/*', '--sort', 'uri')),
	    'http://a.test/one.html http://a.test/two.iso', 'PATTERN selects a.test');
	is(uris(contents('*.iso', '--sort', 'size')),
	    'http://b.test/big.iso http://a.test/two.iso', 'PATTERN *.iso, biggest first');
	is(uris(contents('--sort', 'size', '--limit', '2')),
	    'http://b.test/big.iso http://a.test/two.iso', '--sort size --limit 2: the two biggest');
	is(uris(contents('--sort', 'uri')), join(' ', sort map { $_->[0] } @obj), '--sort uri');
	is(uris(contents('--sort', 'accessed', '--limit', '3')),
	    'http://c.test/small http://a.test/one.html http://b.test/big.iso',
	    '--sort accessed --limit 3: most recently accessed first');
	is(scalar @{ contents('--limit', '1') }, 1, '--limit 1 without a sort: one line');
	is(scalar @{ contents('http://nothing/*') }, 0, 'no match: empty list');

	my ($st, $out) = run_cmd([$ctl, '-f', $cf, 'cache-contents', '--sort', 'uri']);
	is($st, 0, 'text: exit 0');
	like($out, qr/^\s*FILE-SIZE\s+LAST-ACCESSED\s+LAST-MODIFIED\s+EXPIRES\s+URI$/m, 'text: header');
	like($out, qr{^\s+9000 \Q@{[iso($T + 20)]}\E\s+\Q@{[iso($T - 5)]}\E\s+\Q@{[iso($T + 60)]}\E\s+http://b\.test/big\.iso$}m,
	    'text: a full line');
}
{
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, 'purge', 'http://A.test:80/one.html']);
	is($st, 0, 'purge URL (normalised like the cache key): exit 0') or diag($err);
	like($out, qr/^1 object purged$/m, 'one object purged');
	is(uris(contents('--sort', 'uri')), 'http://a.test/two.iso http://b.test/big.iso http://c.test/small',
	    'it is gone, the others stay');
	($st, $out) = run_cmd([$ctl, '-f', $cf, 'purge', 'http://a.test/one.html']);
	is($st >> 8, 1, 'purging it again: exit 1');
	like($out, qr/^0 objects purged$/m, 'nothing purged');
}

my $v = start_viaduct(dir => $dir, conf => default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited}r);
{
	is(uris(contents('--sort', 'uri')), 'http://a.test/two.iso http://b.test/big.iso http://c.test/small',
	    'running node: the same contents');
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, 'purge', '--match', '\.iso$']);
	is($st, 0, 'purge --match: exit 0') or diag($err);
	like($out, qr/^2 objects purged$/m, 'two .iso objects purged');
	is(uris(contents()), 'http://c.test/small', 'only the non-matching one stays');
	($st, $out, $err) = run_cmd([$ctl, '-f', $v->{conf}, 'purge', '--match', '(']);
	is($st >> 8, 1, 'a bad regex: exit 1');
	like($err, qr/^viaductctl: --match: bad regular expression/, 'one clear line');
	# stored without a Date (as before Date was added on storing): the
	# hit carries the time it was stored (RFC 9110 §6.6.1), once
	my $r = http_get($v->port, 'http://c.test/small') // '';
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\nbbbbbbbbbb\z}s, 'c.test/small: a hit (c.test does not resolve)');
	my @d = $r =~ /^Date: ([^\r]*)\r$/mg;
	ok(@d == 1 && grep({ $d[0] eq strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime $_) } $filled .. $filled + 2),
	    "... with one Date, the time it was stored (@d)");
}
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
