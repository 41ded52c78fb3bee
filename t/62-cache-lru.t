#!/usr/bin/perl
# Least recently used is what the cache manager evicts (issue 6): workers
# send the access times of their hits to the manager (a SOCK_SEQPACKET
# socket the master made; cache_atime.h), which writes them into the index
# once a second; `viaductctl cache-contents` shows them as last-accessed,
# and eviction takes the object that was stored later but never used
# again before the one stored first and hit since.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($p) = $req =~ m{^\S+ (\S+)};
	my $body = substr("$p " . ('b' x 100000), 0, 100000);
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: " .
	    length($body) . "\r\n\r\n$body";
});
my $base = 'http://127.0.0.1:' . $o->port;
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=350KiB}r);
my $port = $v->port;

sub get { my $r = http_get($port, "$base$_[0]") // ''; $r =~ /\r\nAge: /i ? 'hit' : 'miss' }
sub ctl { my (undef, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, @_]); $out // '' }
sub contents {
	my %at;
	for (split /\n/, ctl('cache-contents', '--sort', 'uri')) {
		$at{$2} = $1 if m{^\s*\d+\s+(\S+)\s+.*\Q$base\E(/\S+)$};
	}
	return \%at;
}

is(get('/A'), 'miss', 'A stored first');
sleep 1.1;
is(get('/B'), 'miss', 'then B');
sleep 1.1;
is(get('/C'), 'miss', 'then C');
sleep 1.1;
is(get('/A'), 'hit', 'A used again') for 1 .. 3;
ok(wait_until(sub { (contents()->{'/A'} // '-') ne '-' }, 10),
    'the hits\' access time reached the index (cache-contents last-accessed)');
my $at = contents();
like($at->{'/A'}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'A: last-accessed is a time');
is($at->{'/B'}, '-', 'B: never used since it was stored');
is(get('/D'), 'miss', 'D: the store is now over 350 KiB');
ok(wait_until(sub {
	my $m = eval { decode_json(ctl('monitor', '--json')) } // {};
	($m->{'cache-evicted'} // 0) > 0 }, 30), 'the cache manager evicted');
$at = contents();
ok(!exists $at->{'/B'}, 'B, the least recently used, was evicted');
ok(exists $at->{'/A'}, 'A, stored before B but used since, was kept');
is(get('/A'), 'hit', 'A is still a hit');
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
