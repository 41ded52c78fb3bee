#!/usr/bin/perl
# Hostile cache metadata end to end: an origin whose responses carry
# absurd, overflowing, malformed or contradictory caching fields (RFC 9111
# §1.2.2 and §4.2: invalid values are treated as stale, never as a reason
# to fail), and clients whose requests carry the same kind of junk.  Every
# response still arrives whole with the origin's body, whether it came
# from the cache or not; no worker dies; no sanitizer speaks.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $big = 'n' x 5000;
my %hdr = (
	'maxage-overflow' => "Cache-Control: max-age=99999999999999999999999\r\n",
	'maxage-int64' => "Cache-Control: max-age=9223372036854775807\r\n",
	'maxage-2p63' => "Cache-Control: max-age=9223372036854775808, s-maxage=18446744073709551616\r\n",
	'maxage-negative' => "Cache-Control: max-age=-5, s-maxage=-1\r\n",
	'maxage-letters' => "Cache-Control: max-age=abc, s-maxage=1x\r\n",
	'maxage-quoted' => "Cache-Control: max-age=\"600\"\r\n",
	'maxage-empty' => "Cache-Control: max-age=, max-age\r\n",
	'unterminated-quote' => "Cache-Control: private=\"a, b, max-age=600\r\n",
	'no-cache-list' => "Cache-Control: no-cache=\"Set-Cookie, , ,\", max-age=600\r\n",
	'cc-commas' => "Cache-Control: ,,,,, , ,max-age=600,,,\r\n",
	'cc-huge' => "Cache-Control: " . join(', ', map { "x$_=$_" } 1 .. 800) . ", max-age=600\r\n",
	'expires-garbage' => "Expires: not a date\r\n",
	'expires-zero' => "Expires: 0\r\n",
	'expires-far' => "Expires: Fri, 31 Dec 9999 23:59:59 GMT\r\n",
	'expires-past' => "Expires: Mon, 01 Jan 1900 00:00:00 GMT\r\n",
	'expires-bad-fields' => "Expires: Sun, 99 Foo 2024 99:99:99 GMT\r\n",
	'date-garbage' => "Date: yesterday\r\nCache-Control: max-age=600\r\n",
	'date-far' => "Date: Fri, 31 Dec 9999 23:59:59 GMT\r\nCache-Control: max-age=600\r\n",
	'date-past' => "Date: Mon, 01 Jan 1900 00:00:00 GMT\r\nExpires: Fri, 31 Dec 9999 23:59:59 GMT\r\n",
	'date-two' => "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\nDate: Tue, 02 Jan 2024 00:00:00 GMT\r\n",
	'age-overflow' => "Age: 99999999999999999999999\r\nCache-Control: max-age=600\r\n",
	'age-negative' => "Age: -100\r\nCache-Control: max-age=600\r\n",
	'age-int64' => "Age: 9223372036854775807\r\nCache-Control: max-age=9223372036854775807\r\n",
	'lastmod-far' => "Last-Modified: Fri, 31 Dec 9999 23:59:59 GMT\r\n",
	'lastmod-past' => "Last-Modified: Mon, 01 Jan 1900 00:00:00 GMT\r\n",
	'lastmod-garbage' => "Last-Modified: ~~ Sun, 32 Foo -1 GMT\r\n",
	'etag-unterminated' => "ETag: W/\"abc\r\nCache-Control: max-age=600\r\n",
	'etag-huge' => "ETag: \"$big\"\r\nCache-Control: max-age=600\r\n",
	'vary-star' => "Vary: *\r\nCache-Control: max-age=600\r\n",
	'vary-empty-items' => "Vary: , ,, \r\nCache-Control: max-age=600\r\n",
	'vary-many' => "Vary: " . join(', ', map { "X-V$_" } 1 .. 500) . "\r\nCache-Control: max-age=600\r\n",
	'vary-long-name' => "Vary: X-$big\r\nCache-Control: max-age=600\r\n",
	'vary-repeated' => "Vary: Accept\r\nVary: Accept, accept, ACCEPT\r\nCache-Control: max-age=600\r\n",
	'pragma' => "Pragma: no-cache, junk\r\nCache-Control: max-age=600\r\n",
	'many-headers' => join('', map { "X-H$_: v$_\r\n" } 1 .. 120) . "Cache-Control: max-age=600\r\n",
);

my %n;
my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ /([\w-]+)};
	$path //= '';
	my $body = "body of $path\n";
	return "HTTP/1.1 200 OK\r\n" . ($hdr{$path} // "Cache-Control: max-age=600\r\n") .
	    "Content-Length: " . length($body) . "\r\n\r\n$body";
});
my $o = '127.0.0.1:' . $origin->port;

my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
    "/ip proxy\nset max-cache-size=unlimited\n");
my $port = $v->port;
ok(wait_until(sub { (() = $v->children) >= 3 }), 'workers and cache manager up');
sleep 0.3;
my @kids = $v->children;

sub still_standing {
	my ($name) = @_;
	my @now = $v->children;
	is("@now", "@kids", "$name: no process died") or diag(slurp($v->errlog) // '');
	my $err = slurp($v->{log}) // '';
	unlike($err, qr/AddressSanitizer|LeakSanitizer|runtime error/, "$name: no sanitizer report")
	    or diag($err);
}

sub whole {
	my ($r, $path, $name) = @_;
	like($r // '', qr{\AHTTP/1\.1 200 .*\r\n\r\nbody of \Q$path\E\n\z}s, $name)
	    or diag(substr($r // '', 0, 400));
}

# Each response three times: a miss that may store, then what the cache
# makes of it, with different Accept values for the Vary cases.
for my $path (sort keys %hdr) {
	for my $i (1 .. 3) {
		my $r = http_get($port, "http://$o/$path", headers => "Accept: text/x-$i\r\n", timeout => 10);
		whole($r, $path, "origin $path: fetch $i is whole");
	}
	still_standing("origin $path");
}

# Junk request directives and validators against a stored object.
my @req = (
	'Cache-Control: max-age=99999999999999999999999',
	'Cache-Control: max-stale=99999999999999999999999',
	'Cache-Control: max-stale=9223372036854775807',
	'Cache-Control: min-fresh=9223372036854775807',
	'Cache-Control: min-fresh=-1, max-age=-1',
	'Cache-Control: max-stale',
	'Cache-Control: max-age="x',
	'Cache-Control: ' . join(',', ('no-cache') x 500),
	'Pragma: no-cache',
	'If-None-Match: W/"unterminated',
	'If-None-Match: ' . join(', ', map { "\"e$_\"" } 1 .. 1000),
	'If-None-Match: *',
	'If-Modified-Since: Fri, 31 Dec 9999 23:59:59 GMT',
	'If-Modified-Since: garbage',
	'If-Unmodified-Since: Mon, 01 Jan 1900 00:00:00 GMT',
	'Range: bytes=99999999999999999999999-',
	'Range: bytes=-0',
	'Range: garbage',
);
whole(http_get($port, "http://$o/stored", timeout => 10), 'stored', 'the object is stored');
for my $h (@req) {
	my $r = http_get($port, "http://$o/stored", headers => "$h\r\n", timeout => 10);
	my $name = 'request ' . substr($h, 0, 60);
	# a conditional or range request may be answered 304/412/206/416; anything
	# else must be the whole object
	if (($r // '') =~ m{\AHTTP/1\.1 (304|412|206|416) }) {
		pass("$name: $1");
	} else {
		whole($r, 'stored', "$name: whole");
	}
	still_standing($name);
}
{
	my $r = http_get($port, "http://$o/never-seen", headers => "Cache-Control: only-if-cached\r\n", timeout => 10);
	like($r // '', qr{\AHTTP/1\.1 504 }, 'only-if-cached on a miss: 504');
	still_standing('only-if-cached');
}

my ($st, $out, $err) = run_cmd([ viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json' ]);
is($st, 0, 'viaductctl monitor --json exits 0') or diag($err);
like($out, qr/"hits": [1-9]\d*/, 'the cache did answer some of them');
whole(http_get($port, "http://$o/end", timeout => 10), 'end', 'a normal request afterwards');
still_standing('end');
is($v->stop, 0, 'stops cleanly');
unlike(slurp($v->{log}) // '', qr/AddressSanitizer|LeakSanitizer|runtime error/,
    'nothing from a sanitizer at stop either');
done_testing();
