#!/usr/bin/perl
# The performance contract (DESIGN.md, issue 6): a cache hit in a worker
# never allocates.  In a build configured with --enable-alloc-count every
# malloc-family call of the process, LMDB's, PCRE2's, c-ares's and libc's
# included, counts in the worker's stats slot ("allocations" in viaductctl
# monitor --json --workers; src/alloc_count.h).  One worker with access and
# cache rules (PCRE2 and wildcards run on every request), a cache with a
# 1 KiB object (inline in LMDB) and a 200 KiB one (a body file, sendfile):
# after a warm-up, 1,000 GETs, 1,000 HEADs, 1,000 If-None-Match
# revalidations (304) and 1,000 Range requests (206) of each, on keep-alive
# connections, leave the count where it was.
#
# Any other build cannot count, and says so ("alloc-count: off" from
# viaduct -V): this test then checks only that, and tells how to run the
# real check.  The README's test command (.ci/run) runs it in build-alloc.
# To see where a hit allocates, run it with VIADUCT_ALLOC_TRACE=1 and
# VIADUCT_KEEP=1: each counted allocation's backtrace is in the error log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my ($vst, $vout) = run_cmd([viaduct_bin(), '-V']);
if ($vout !~ /^alloc-count: on$/m) {
	plan tests => 1;
	like($vout, qr/^alloc-count: off$/m, 'viaduct -V: this build does not count allocations');
	diag('not an --enable-alloc-count build: the allocation-free hit check did not run here; ' .
	    'run it with: mkdir build-alloc && cd build-alloc && ../configure -q --enable-alloc-count ' .
	    '&& make -j2 && cd .. && VIADUCT_BUILD=$PWD/build-alloc prove -v t/69-alloc-free.t');
	exit 0;
}

my $N = 1000;
my %obj = (
	'/inline' => { body => join('', map { chr(65 + $_ % 26) } 0 .. 1023), etag => '"i1"' },
	'/file'   => { body => join('', map { sprintf("%07d\n", $_) } 0 .. 25599), etag => '"f1"' },
);
is(length $obj{'/file'}{body}, 200 * 1024, 'the file object is 200 KiB');

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	my $ob = $obj{$path} or return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	return "HTTP/1.1 200 OK\r\nDate: " . strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime) .
	    "\r\nCache-Control: max-age=3600\r\nETag: $ob->{etag}\r\nContent-Type: text/plain\r\n" .
	    'Content-Length: ' . length($ob->{body}) . "\r\n\r\n$ob->{body}";
});
my $base = 'http://127.0.0.1:' . $o->port;

my $conf = default_conf();
$conf =~ s/workers=2/workers=1/;
$conf =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=unlimited};
# rules on the hit path too: PCRE2 (JIT) and wildcards run for every request
$conf .= <<'RULES';
/ip proxy access
add path=:\.exe$ action=deny
add dst-host=*.blocked.test action=deny
/ip proxy cache
add dst-host=:^127\.0\.0\.1$ path=/* action=allow
RULES
my $v = start_viaduct(conf => $conf);
my $json = JSON::PP->new;

# The one worker's slot, from viaductctl (read from outside, as an operator would).
sub worker_stats {
	my ($st, $out, $err) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'monitor', '--json',
	    '--workers']);
	my $m = eval { $json->decode($out) } // {};
	my @w = @{ $m->{workers} // [] };
	return @w == 1 ? $w[0] : do { diag("monitor: $st $out $err"); {} };
}

# Read more into $$bufref; false on EOF, error, or 30 s of silence (a hung
# viaduct fails the test instead of hanging it).
sub more {
	my ($s, $bufref) = @_;
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	return 0 unless select(my $rout = $rin, undef, undef, 30) > 0;
	return sysread($s, $$bufref, 65536, length $$bufref);
}

# One request on a keep-alive connection; (status, head, body).
sub ask {
	my ($s, $method, $path, $extra) = @_;
	print $s "$method $base$path HTTP/1.1\r\nHost: 127.0.0.1\r\n" . ($extra // '') . "\r\n";
	my $buf = '';
	while ($buf !~ /\r\n\r\n/) {
		more($s, \$buf) or return (0, '', '');
	}
	my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
	my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
	my ($len) = $head =~ /^Content-Length: (\d+)\r?$/mi;
	my $want = ($method eq 'HEAD' || $status == 304) ? 0 : $len // 0;
	while (length $rest < $want) {
		more($s, \$rest) or last;
	}
	return ($status, $head, $rest);
}

# Every kind of hit, once: false if any answer is not what the cache holds.
my @kinds = map {
	my ($p, $ob) = ($_, $obj{$_});
	([ GET => $p, '', 200, $ob->{body} ], [ HEAD => $p, '', 200, '' ],
	 [ GET => $p, "If-None-Match: $ob->{etag}\r\n", 304, '' ],
	 [ GET => $p, "Range: bytes=100-299\r\n", 206, substr($ob->{body}, 100, 200) ])
} sort keys %obj;
sub round {
	my ($conns) = @_;
	my $ok = 1;
	for my $i (0 .. $#kinds) {
		my ($m, $p, $h, $want, $body) = @{ $kinds[$i] };
		my ($st, $head, $b) = ask($conns->[$i], $m, $p, $h);
		$ok = 0 unless $st == $want && $b eq $body && $head =~ /^Age: \d+\r?$/mi;
	}
	return $ok;
}

# store both (misses), then one keep-alive connection per kind of hit
for my $p (sort keys %obj) {
	my $r = http_get($v->port, "$base$p") // '';
	like($r, qr{^HTTP/1\.1 200 }, "$p fetched and stored");
}
my @conns = map {
	IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port, Proto => 'tcp')
	    or die "connect: $!"
} @kinds;
$_->autoflush(1) for @conns;

my $warm = 1;
$warm &&= round(\@conns) for 1 .. 20;
ok($warm, 'warm-up: 20 rounds of hits (GET, HEAD, 304, 206 of each object) answered from the cache');
is(scalar $o->requests, 2, 'the origin saw only the two misses');

my $w0 = worker_stats();
cmp_ok($w0->{allocations} // 0, '>', 0, 'the worker counts allocations (start-up allocated)');

my $good = 0;
for (1 .. $N) {
	$good++ if round(\@conns);
}
is($good, $N, "$N rounds of " . scalar(@kinds) . ' hits each answered from the cache, byte-exact');

my $w1 = worker_stats();
is($w1->{hits} - $w0->{hits}, $N * @kinds, 'every one counted as a hit');
is($w1->{pid}, $w0->{pid}, 'by the same worker');
is($w1->{allocations} - $w0->{allocations}, 0,
    'no allocation in the worker during ' . $N * @kinds . ' cache hits');
is(scalar $o->requests, 2, 'the origin still saw only the two misses');
{
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'rules', '--json']);
	my $r = eval { $json->decode($out) } // {};
	cmp_ok($r->{cache}[0]{hits} // 0, '>=', $N * @kinds,
	    'the regex cache rule matched every one of them (PCRE2 ran on the hit path)');
}

# The control: the count does move in this worker when a library allocates.
# A name to resolve makes c-ares allocate (its queries, /etc/hosts, the
# answer), whether or not it resolves here.
my $r = http_get($v->port, 'http://localhost:' . $o->port . '/inline?by-name') // '';
like($r, qr{^HTTP/1\.1 \d{3} }, 'a request for a name to resolve is answered');
my $w2 = worker_stats();
cmp_ok($w2->{allocations} - $w1->{allocations}, '>', 0,
    'the count moves when c-ares allocates in the worker (' .
    ($w2->{allocations} - $w1->{allocations}) . ' allocations): the check above can fail');

close $_ for @conns;
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
