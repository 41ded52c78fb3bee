#!/usr/bin/perl
# Read-while-writer (issue 6): requests that wait for another request's
# fetch of one object, in either of the 2 workers, get the head and the
# body as the fetch writes it, not once it is stored -- a large body from
# its body file, a small one (kept in memory to be stored inline) from a
# file the fetch starts for its waiters when the first one asks, removed
# once the object is stored inline.  The origin sends
# the head and the first 100,000 bytes and then holds the rest until the
# test opens a gate; the test opens it only once every client has its head
# and body bytes, so the order is proven by the events, with no timing.
# Then: every body byte-exact, one origin request; a chunked origin
# response (1.1 waiters get chunks, a 1.0 waiter a close-delimited body);
# HEAD from a waiter; Range waiters (206 as the bytes come, 416, If-Range);
# a fetching client that goes away mid-body leaves the
# fetch running for the waiters, who get it whole, and it is stored; an
# origin that closes mid-body cuts the waiters that
# had bytes (short body, closed connection) and stores nothing, and so does
# a fetching worker killed mid-body; the access log says TCP_MISS/HIER_DIRECT
# for the waiters, whose body came from the origin through the fetch.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use POSIX qw(strftime);
use Errno qw(ECONNRESET);
use IO::Socket::INET;
use JSON::PP;
use Viaduct::Test;
use Viaduct::Origin;

my $N = 6;
my $LEN = 300000;	# > the 64 KiB kept inline: the body goes to a file
my $FIRST = 100000;	# what the origin sends before the gate
my ($SLEN, $SFIRST) = (3000, 1000);	# /small...: a body stored inline
my $dir = tmpdir_keep();

sub date { strftime('%a, %d %b %Y %H:%M:%S GMT', gmtime(time)) }

sub len_of { $_[0] =~ m{^/small} ? $SLEN : $LEN }

sub body_of {
	my ($path) = @_;
	my $len = len_of($path);
	my $s = '';
	$s .= sprintf("%07d %s\n", length $s, $path) while length $s < $len;
	return substr($s, 0, $len);
}

sub gate { "$dir/gate" . ($_[0] =~ s{/}{-}gr) }

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	$path =~ s{^http://[^/]+}{};
	my $body = body_of($path);
	my $chunked = $path =~ /chunked/;
	my $first = $path =~ m{^/small} ? $SFIRST : $FIRST;
	my $head = "HTTP/1.1 200 OK\r\nDate: " . date() . "\r\nCache-Control: max-age=300\r\n" .
	    "Content-Type: application/octet-stream\r\nETag: \"v1\"\r\n" .
	    ($chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: " . length($body) . "\r\n") .
	    "\r\n";
	my $send = sub {
		my ($c, $part) = @_;
		print $c ($chunked ? sprintf("%x\r\n%s\r\n", length $part, $part) : $part);
	};
	return sub {
		my ($c) = @_;
		print $c $head;
		$send->($c, substr($body, 0, $first));
		sleep 0.02 until -e gate($path);
		# the first fetch of an /abort object stops here: closed mid-body
		return if $path =~ /abort/ && !-e "$dir/aborted$path" && do {
			open(my $f, '>', "$dir/aborted$path") or die; close $f; 1 };
		$send->($c, substr($body, $first));
		print $c "0\r\n\r\n" if $chunked;
	};
});
my $op = $o->port;
mkdir "$dir/aborted";

my $v = start_viaduct(dir => $dir, conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r);
my $port = $v->port;
my $ctl = viaductctl_bin();

sub monitor {
	my ($st, $out) = run_cmd([$ctl, '-f', $v->{conf}, 'monitor', '--json', '--workers']);
	return $st == 0 ? decode_json($out) : undef;
}

sub origin_count {
	my ($path) = @_;
	return scalar grep { m{^\S+ \S*\Q$path\E } } $o->requests;
}

# n connections, each accepted before the next (so that both workers take
# some); returns the sockets and how many each worker slot took
sub open_clients {
	my ($n) = @_;
	my $m0 = monitor();
	my %a0 = map { $_->{slot} => $_->{accepted} } @{ $m0->{workers} };
	my ($m, @s);
	for my $i (1 .. $n) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		    Proto => 'tcp', Timeout => 5) or die "connect: $!";
		$s->autoflush(1);
		push @s, $s;
		$m = wait_until(sub { my $m = monitor(); $m && $m->{accepted} >= $m0->{accepted} + $i ? $m : undef }, 20);
	}
	my %took = map { $_->{slot} => $_->{accepted} - ($a0{$_->{slot}} // 0) } @{ $m->{workers} };
	return (\@s, \%took);
}

sub request {
	my ($path, %o) = @_;
	my $m = $o{method} // 'GET';
	my $ver = $o{v10} ? '1.0' : '1.1';
	return "$m http://127.0.0.1:$op$path HTTP/$ver\r\nHost: 127.0.0.1:$op\r\n" .
	    ($o{hdr} // '') . ($o{v10} ? '' : "Connection: close\r\n") . "\r\n";
}

# Read what is there on every open socket until cond(\@buf) holds or every
# socket is closed (then true) -- bounded so that a failure cannot hang.
sub pump {
	my ($socks, $buf, $open, $cond, $err) = @_;	# $err: errno of a read that failed
	for (1 .. 600) {
		return 1 if $cond && $cond->($buf);
		return !$cond if !%$open;
		my $rin = '';
		vec($rin, fileno($socks->[$_]), 1) = 1 for keys %$open;
		next unless select(my $rout = $rin, undef, undef, 0.1) > 0;
		for my $i (keys %$open) {
			next unless vec($rout, fileno($socks->[$i]), 1);
			my $n = sysread($socks->[$i], $buf->[$i], 65536, length $buf->[$i]);
			$err->{$i} = $! + 0 if !defined $n && $err;
			delete $open->{$i} if !$n;
		}
	}
	return 0;
}

# head and at least one body byte in every buffer
sub started { my ($b) = @_; !grep { !/\r\n\r\n./s } @$b }

sub split_resp { my ($r) = @_; $r =~ /\A(.*?\r\n)\r\n(.*)\z/s ? ($1, $2) : ($r, undef) }

sub dechunk {
	my ($s) = @_;
	my $out = '';
	while ($s =~ s/\A([0-9a-f]+)\r\n//i) {
		my $n = hex $1;
		return $out if $n == 0 && $s eq "\r\n";
		return undef if length($s) < $n + 2 || substr($s, $n, 2) ne "\r\n";
		$out .= substr($s, 0, $n);
		substr($s, 0, $n + 2, '');
	}
	return undef;
}

sub open_gate { my ($p) = @_; open(my $g, '>', gate($p)) or die; close $g }

ok(defined monitor(), 'viaductctl monitor --json --workers');

# body files (and the heads beside them) in the store: RAM mode, under run-dir
sub body_files { my @f = grep { -f } glob("$dir/run/cache/bodies/*/*"); scalar @f }

# --- a small body (stored inline): the waiters stream it from a file the
# fetch starts for them, in both workers, before the origin ends ---
{
	my $path = '/small';
	my $m0 = monitor();
	my ($socks, $took) = open_clients($N);
	is(scalar(grep { $_ > 0 } values %$took), 2, "small: both workers took some of the $N connections");
	print $_ request($path) for @$socks;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started),
	    'small: every client has the head and body bytes while the origin holds the rest');
	is(origin_count($path), 1, '... from one origin request');
	my $m1 = monitor();
	is($m1->{'collapsed-hits'} - $m0->{'collapsed-hits'}, $N - 1, '... the waiters stream it (collapsed-hits)');
	cmp_ok($m1->{'collapsed-wakeups'} - $m0->{'collapsed-wakeups'}, '>', 0,
	    '... woken by the fetching worker (collapsed-wakeups)');
	is(body_files(), 2, '... from one body file and its head, while the origin holds the rest');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), 'small: every response ends');
	close $_ for @$socks;
	my $want = body_of($path);
	is(scalar(grep { ((split_resp($_))[1] // '') eq $want } @buf), $N, "small: all $N bodies byte-exact");
	is(scalar(grep { /^Age: \d+\r$/m && /^Content-Length: $SLEN\r$/m } @buf), $N - 1,
	    '... the waiters\' heads have Age and the origin\'s Content-Length');
	my $m2 = monitor();
	is($m2->{'inserts-successes'} - $m0->{'inserts-successes'}, 1, 'small: stored once');
	is(body_files(), 0, '... inline: the waiters\' file is gone');
	my $r = http_get($port, "http://127.0.0.1:$op$path");
	ok(defined $r && (split_resp($r))[1] eq $want, 'small: a later request is a hit, byte-exact');
	is(origin_count($path), 1, '... still one origin request');
}

# --- small and chunked, the waiters come once the fetch has its first bytes
# (the fetching worker hears of them by signal, not from the origin) ---
{
	my $path = '/small-chunked';
	my ($socks) = open_clients($N);
	print { $socks->[0] } request($path);
	my @buf = ('') x $N;
	ok(pump($socks, \@buf, { 0 => 1 }, sub { $_[0][0] =~ /\r\n\r\n.*\d{7} /s }),
	    'small chunked: the fetching client has its first body bytes');
	print { $socks->[$_] } request($path) for 1 .. $N - 2;
	print { $socks->[$N - 1] } request($path, v10 => 1);
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), '... then every waiter has body bytes before the end');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), '... every response ends');
	close $_ for @$socks;
	my $want = body_of($path);
	my ($h10, $b10) = split_resp(pop @buf);
	ok($h10 =~ /\r\nConnection: close\r\n\z/ && defined $b10 && $b10 eq $want,
	    '... the 1.0 waiter: close-delimited, byte-exact');
	is(scalar(grep { my $d = dechunk((split_resp($_))[1] // ''); defined $d && $d eq $want } @buf),
	    $N - 1, '... the 1.1 ones: chunked, byte-exact');
	is(origin_count($path), 1, '... one origin request');
	is(body_files(), 0, '... stored inline, no file left');
}

# --- small, the origin closes mid-body: the waiters are cut, nothing stored ---
{
	my $path = '/small-abort';
	my $m0 = monitor();
	my ($socks) = open_clients($N);
	print $_ request($path) for @$socks;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), 'small abort: every client has body bytes');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), '... every connection is closed');
	close $_ for @$socks;
	my $want = body_of($path);
	is(scalar(grep { my (undef, $b) = split_resp($_);
	    defined $b && length $b < $SLEN && $b eq substr($want, 0, length $b) } @buf), $N,
	    "... all $N got a cut body");
	is(monitor()->{'inserts-successes'} - $m0->{'inserts-successes'}, 0, '... nothing stored');
	is(body_files(), 0, '... no file left');
}

# --- RFC 9112 §8: 1.0 clients of a chunked body (de-chunked, read until the
# close) that the origin cuts: the fetching client and every waiter end in
# a reset, never in the FIN that would complete the message for them ---
{
	my $path = '/small-chunked-abort10';
	my ($socks) = open_clients($N);
	print $_ request($path, v10 => 1) for @$socks;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), '1.0 clients, chunked, cut: every client has body bytes');
	open_gate($path);
	my %err;
	ok(pump($socks, \@buf, \%open, undef, \%err), '... every connection is closed');
	close $_ for @$socks;
	is(scalar(grep { ($err{$_} // 0) == ECONNRESET } 0 .. $N - 1), $N, "... all $N by a reset");
	unlike(join('', @buf), qr/Transfer-Encoding/i, '... de-chunked for them');
}

# --- Content-Length: waiters in both workers stream before the origin ends ---
{
	my $path = '/big';
	my $m0 = monitor();
	my ($socks, $took) = open_clients($N);
	is(scalar(grep { $_ > 0 } values %$took), 2, "both workers took some of the $N connections (" .
	    join('/', map { $took->{$_} } sort keys %$took) . ')');
	print $_ request($path) for @$socks;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started),
	    'every client has the head and body bytes while the origin holds the rest');
	is(origin_count($path), 1, '... from one origin request');
	my $m1 = monitor();
	is($m1->{'collapsed-hits'} - $m0->{'collapsed-hits'}, $N - 1,
	    'the ' . ($N - 1) . ' waiters stream it (collapsed-hits)');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), 'every response ends');
	close $_ for @$socks;
	my $want = body_of($path);
	my $exact = grep { my ($h, $b) = split_resp($_); defined $b && $b eq $want } @buf;
	is($exact, $N, "all $N bodies byte-exact");
	my @w = grep { /^Age: \d+\r$/m } @buf;
	is(scalar @w, $N - 1, 'the waiters\' heads have Age, as a hit\'s');
	is(scalar(grep { m{^HTTP/1\.1 200 OK\r\n}s && /^Content-Length: $LEN\r$/m && /^ETag: "v1"\r$/m &&
	    /^Via: /m } @w), $N - 1, '... status, Content-Length, stored fields and Via');
	is(origin_count($path), 1, 'the origin saw exactly one request');
	my $m2 = monitor();
	is($m2->{hits} - $m0->{hits}, 0, 'no hit counted (the object was not in the cache)');
	is($m2->{'inserts-successes'} - $m0->{'inserts-successes'}, 1, 'stored once');
	my $r = http_get($port, "http://127.0.0.1:$op$path");
	ok(defined $r && (split_resp($r))[1] eq $want, 'a later request is a hit, byte-exact');
	is(origin_count($path), 1, '... still one origin request');
	# the workers write their log lines within a second
	my $log = sub { [ grep { m{ http://127\.0\.0\.1:\d+/big } } split /\n/, slurp("$dir/access.log") // '' ] };
	my $l = wait_until(sub { my $l = $log->(); @$l >= $N + 1 ? $l : undef }, 20) // [];
	is(scalar(grep { m{ TCP_MISS/200 .* HIER_DIRECT/127\.0\.0\.1 } } @$l), $N,
	    'access log: the fetch and its waiters are TCP_MISS from the origin (HIER_DIRECT)');
}

# --- chunked from the origin: 1.1 waiters get chunks, a 1.0 one an EOF body ---
{
	my $path = '/chunked';
	my ($socks) = open_clients($N);
	print { $socks->[$_] } request($path) for 0 .. $N - 2;
	ok(wait_until(sub { origin_count($path) >= 1 }, 20), 'the chunked fetch reached the origin');
	print { $socks->[$N - 1] } request($path, v10 => 1);
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), 'every client has body bytes before the end');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), 'every response ends');
	close $_ for @$socks;
	my $want = body_of($path);
	my ($h10, $b10) = split_resp(pop @buf);
	like($h10, qr{^HTTP/1\.1 200 .*\r\nConnection: close\r\n\z}s, '1.0 waiter: 200, closed after');
	unlike($h10, qr/^(?:Transfer-Encoding|Content-Length):/mi, '... no framing field');
	ok(defined $b10 && $b10 eq $want, '... its body byte-exact up to the close');
	my ($ok, $te) = (0, 0);
	for (@buf) {
		my ($h, $b) = split_resp($_);
		$te++ if $h =~ /^Transfer-Encoding: chunked\r$/mi && $h =~ /^Age: /m;
		my $d = defined $b ? dechunk($b) : undef;
		$ok++ if defined $d && $d eq $want;
	}
	is($ok, $N - 1, '1.1 clients: every chunked body decodes byte-exact');
	is($te, $N - 2, '... the waiters\' framed chunked by viaduct');
	is(origin_count($path), 1, 'one origin request');
}

# --- HEAD from a waiter -----------------------------------------------------
{
	my $path = '/headwait';
	my ($socks) = open_clients(2);
	print { $socks->[0] } request($path);
	ok(wait_until(sub { origin_count($path) >= 1 }, 20), 'the fetch reached the origin');
	print { $socks->[1] } request($path, method => 'HEAD');
	my @buf = ('', '');
	my %open = (1 => 1);
	ok(pump($socks, \@buf, \%open), 'HEAD answered while the fetch is still held');
	like($buf[1], qr{^HTTP/1\.1 200 OK\r\n.*^Content-Length: $LEN\r\n.*\r\n\r\n\z}ms,
	    '... 200 with the object\'s Content-Length and no body');
	open_gate($path);
	%open = (0 => 1);
	ok(pump($socks, \@buf, \%open), 'the fetch ends');
	is((split_resp($buf[0]))[1], body_of($path), '... byte-exact');
	close $_ for @$socks;
	is(origin_count($path), 1, 'one origin request');
}

# --- Range from waiters: answered from the stream as on a hit ------------
{
	my $path = '/ranged';
	my ($socks) = open_clients(6);
	print { $socks->[0] } request($path);
	my @buf = ('') x 6;
	ok(pump($socks, \@buf, { 0 => 1 }, sub { $_[0][0] =~ /\r\n\r\n./s }),
	    'ranged: the fetch has its first bytes');
	my @rq = ("Range: bytes=100-199\r\n", "Range: bytes=150000-150099\r\n", "Range: bytes=-50\r\n",
	    "Range: bytes=400000-\r\n", "Range: bytes=0-9\r\nIf-Range: \"v0\"\r\n");
	print { $socks->[$_] } request($path, hdr => $rq[$_ - 1]) for 1 .. 5;
	my %open = map { $_ => 1 } 0 .. 5;
	my $body_len = sub { my (undef, $b) = split_resp($_[0]); defined $b ? length $b : -1 };
	ok(pump($socks, \@buf, \%open, sub { my ($b) = @_;
	    $body_len->($b->[1]) == 100 && $b->[4] =~ /\r\n\r\n\z/ && $b->[2] =~ /\r\n\r\n\z/ }),
	    '... while the origin holds the rest: a range it has is sent whole, 416 at once, ' .
	    'a range beyond it has its head only');
	my $want = body_of($path);
	like($buf[1], qr{^HTTP/1\.1 206 Partial Content\r\n.*^Content-Range: bytes 100-199/$LEN\r\n.*^Content-Length: 100\r\n}ms,
	    '... 206 with Content-Range and Content-Length');
	is((split_resp($buf[1]))[1], substr($want, 100, 100), '... its bytes');
	like($buf[4], qr{^HTTP/1\.1 416 .*^Content-Range: bytes \*/$LEN\r\n}ms, '... 416 for a range past the end');
	like($buf[2], qr{^HTTP/1\.1 206 .*^Content-Range: bytes 150000-150099/$LEN\r\n}ms,
	    '... the waiting range\'s 206 head');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), 'ranged: every response ends');
	close $_ for @$socks;
	is((split_resp($buf[2]))[1], substr($want, 150000, 100), 'the range beyond: its bytes once written');
	like($buf[3], qr{^HTTP/1\.1 206 .*^Content-Range: bytes 299950-299999/$LEN\r\n}ms, 'a suffix range: 206');
	is((split_resp($buf[3]))[1], substr($want, -50), '... the last 50 bytes');
	like($buf[5], qr{^HTTP/1\.1 200 OK\r\n}, 'If-Range with another ETag: 200');
	is((split_resp($buf[5]))[1], $want, '... the whole body');
	is((split_resp($buf[0]))[1], $want, 'the fetching client: the whole body');
	is(origin_count($path), 1, 'one origin request');
}

# --- the fetching client goes away mid-body: the fetch goes on for the waiters ---
{
	my $path = '/leaver';
	my $m0 = monitor();
	my ($socks) = open_clients($N);
	print { $socks->[0] } request($path);
	ok(wait_until(sub { origin_count($path) >= 1 }, 20), 'the first client\'s fetch reached the origin');
	print { $socks->[$_] } request($path) for 1 .. $N - 1;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), 'every client has body bytes while the origin holds the rest');
	close $socks->[0];		# unread bytes: the close resets, viaduct's next write fails
	delete $open{0};
	open_gate($path);
	ok(pump($socks, \@buf, \%open), 'every waiter\'s response ends');
	close $socks->[$_] for 1 .. $N - 1;
	my $want = body_of($path);
	is(scalar(grep { ((split_resp($_))[1] // '') eq $want } @buf[1 .. $N - 1]), $N - 1,
	    'all ' . ($N - 1) . ' waiters got the whole body, byte-exact');
	my $m1 = wait_until(sub { my $m = monitor(); $m->{'inserts-successes'} > $m0->{'inserts-successes'} ? $m : undef }, 20);
	is($m1 ? $m1->{'inserts-successes'} - $m0->{'inserts-successes'} : 0, 1,
	    'the fetch finished for the cache alone and stored the object');
	my $r = http_get($port, "http://127.0.0.1:$op$path");
	ok(defined $r && (split_resp($r))[1] eq $want, 'a later request is a hit, byte-exact');
	is(origin_count($path), 1, 'the origin saw one request');
	like(slurp($v->errlog) // '', qr/client gone; finishing \S*\Q$path\E for the cache and its waiters/,
	    'the error log (info) says the fetch went on without its client');
}

# --- the origin closes mid-body: waiters with bytes are cut, nothing stored ---
{
	my $path = '/abort';
	my $m0 = monitor();
	my ($socks) = open_clients($N);
	print $_ request($path) for @$socks;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), 'every client has body bytes');
	is(origin_count($path), 1, '... from one origin request');
	open_gate($path);
	ok(pump($socks, \@buf, \%open), 'every connection is closed');
	close $_ for @$socks;
	my $want = body_of($path);
	my $cut = grep { my ($h, $b) = split_resp($_);
	    defined $b && length $b < $LEN && $b eq substr($want, 0, length $b) } @buf;
	is($cut, $N, "all $N got a cut body: shorter than Content-Length, the bytes right");
	is(scalar(grep { ((split_resp($_))[1] // '') eq $want } @buf), 0, 'none a full-length body');
	my $m1 = monitor();
	is($m1->{'inserts-successes'} - $m0->{'inserts-successes'}, 0, 'nothing stored');
	my $r = http_get($port, "http://127.0.0.1:$op$path");
	ok(defined $r && (split_resp($r))[1] eq $want, 'the next request fetches it whole');
	is(origin_count($path), 2, '... from the origin');
}

# --- the fetching worker dies mid-body: its slot retired, the waiters are cut
# (a body file, and the file a small body is streamed from) ---
for my $path ('/killed', '/small-killed') {
	my $len = len_of($path);
	my $m0 = monitor();
	my ($socks) = open_clients($N);
	print $_ request($path) for @$socks;
	my @buf = ('') x $N;
	my %open = map { $_ => 1 } 0 .. $N - 1;
	ok(pump($socks, \@buf, \%open, \&started), "$path: every client has body bytes");
	# the fetcher's worker parked one request fewer than it was sent
	my $m1 = monitor();
	my (%req, %wait);
	for my $w (@{ $m1->{workers} }) {
		my ($b) = grep { $_->{slot} == $w->{slot} } @{ $m0->{workers} };
		$req{$w->{pid}} = $w->{requests} - ($b ? $b->{requests} : 0);
		$wait{$w->{pid}} = $w->{'collapsed-waits'} - ($b ? $b->{'collapsed-waits'} : 0);
	}
	my ($fetcher) = grep { $req{$_} == $wait{$_} + 1 } keys %req;
	my ($other) = grep { $req{$_} > 0 && $req{$_} == $wait{$_} } keys %req;
	ok($fetcher && $other, 'a fetching worker and a waiting one (requests/waits: ' .
	    join(' ', map { "$_=$req{$_}/$wait{$_}" } sort keys %req) . ')');
	SKIP: {
		skip 'the requests did not spread over both workers', 2 unless $fetcher && $other;
		kill 'KILL', $fetcher;
		ok(pump($socks, \@buf, \%open), "$path: every connection is closed");
		my $want = body_of($path);
		my $cut = grep { my ($h, $b) = split_resp($_);
		    defined $b && length $b < $len && $b eq substr($want, 0, length $b) } @buf;
		is($cut, $N, "$path: all $N got a cut body (the other worker's waiters too)");
	}
	close $_ for @$socks;
	open_gate($path);
	my $r = http_get($port, "http://127.0.0.1:$op$path");
	ok(defined $r && (split_resp($r))[1] eq body_of($path), "$path: then a request fetches it whole");
	is(origin_count($path), 2, '... from the origin');
}

is($v->stop, 0, 'viaduct stops with 0');
done_testing();
