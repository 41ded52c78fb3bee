#!/usr/bin/perl
# access-log=syslog (issue 7): every request becomes one RFC 3164 datagram
# on syslog-socket, which this test receives as a syslog daemon would (a
# forked reader on its own unix datagram socket, writing
# "Mon DD HH:MM:SS host tag[pid]: msg" lines to a file).  GoAccess's SQUID
# preset reads that file and counts the same requests as `viaductctl monitor`.
# A reader that stops (stopped process, full queue) or a socket that is gone
# never holds a worker: the lines are dropped and counted in syslog-dropped,
# and every request is still answered.  No access log file is created.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_DGRAM);
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $json = JSON::PP->new;
my $ctl = viaductctl_bin();
my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	if ($path =~ m{/missing}) {
		return "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\nno\n";
	}
	my $b = "object $path\n";
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=300\r\n" .
	    "Content-Length: " . length($b) . "\r\n\r\n$b";
});
my $op = $o->port;
my $refused = free_port();

my $dir = tmpdir_keep();
my $sock_path = "$dir/log.sock";
my $file = "$dir/syslog.log";

# The "syslog daemon": receives datagrams, writes each as a syslog file line
# (the host name inserted after the timestamp, as rsyslog does for local
# messages), keeps the raw datagram too for the format checks.
sub start_reader {
	my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $sock_path)
	    or die "bind $sock_path: $!";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open(my $out, '>>', $file) or die;
		open(my $raw, '>>', "$file.raw") or die;
		$out->autoflush(1);
		$raw->autoflush(1);
		while (defined(my $r = $s->recv(my $d, 70000))) {
			print $raw unpack('H*', $d), "\n";
			if ($d =~ /^<\d+>(\w{3} [ \d]\d \d\d:\d\d:\d\d) (.*)\z/s) {
				print $out "$1 testhost $2\n";
			} else {
				print $out "UNPARSED $d\n";
			}
		}
		POSIX::_exit(0);
	}
	close $s;
	return $pid;
}
sub lines_of { my ($f) = @_; my $t = slurp($f) // ''; return [ split /\n/, $t ] }

my $reader = start_reader();

my $conf = default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=10MiB}r
    =~ s{access-log=\@DIR\@/access\.log}{access-log=syslog:local3 syslog-socket=\@DIR\@/log.sock}r .
    "/ip proxy access\nadd dst-host=blocked.test action=deny\n";
my $v = start_viaduct(conf => $conf, dir => $dir);
my $cf = $v->{conf};

sub ctl_json {
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, @_]);
	is($st, 0, "viaductctl @_: exit 0") or diag($err);
	return eval { $json->decode($out) } // {};
}
sub get { my ($r) = http_get($v->port, $_[0]) // ''; $r =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 0 }

# misses, hits, an origin 404, a refused origin, a denial, a bad request
my @want = (200, 200, 200, 200, 404, 502, 403);
my @got;
push @got, get("http://127.0.0.1:$op/a");
push @got, get("http://127.0.0.1:$op/a");
push @got, get("http://127.0.0.1:$op/b");
push @got, get("http://127.0.0.1:$op/b");
push @got, get("http://127.0.0.1:$op/missing");
push @got, get("http://127.0.0.1:$refused/x");
push @got, get("http://blocked.test/x");
is_deeply(\@got, \@want, 'the sequence was answered as expected');
my $r = http_raw($v->port, "garbage\r\n\r\n") // '';
like($r, qr{^HTTP/1\.1 400 }, 'an unparsable request: 400');
my $n = @want + 1;

ok(wait_until(sub { @{ lines_of($file) } >= $n }, 10), "the reader got $n datagrams");
my $m = ctl_json('monitor', '--json', '--workers');
is($m->{requests}, $n, "monitor: $n requests");
is($m->{hits}, 2, 'monitor: 2 hits');
is($m->{'syslog-dropped'}, 0, 'monitor: nothing dropped');
my @wpids = map { $_->{pid} } @{ $m->{workers} };

{
	my @raw = map { pack('H*', $_) } @{ lines_of("$file.raw") };
	is(scalar @raw, $n, "exactly $n datagrams, one per request");
	my %pri;
	for my $d (@raw) {
		like($d, qr/^<(\d+)>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d viaduct\[(\d+)\]: \d+\.\d{3} +\d+ 127\.0\.0\.1 [A-Z_]+\/\d{3} \d+ \S+ \S+ \S+ \S+\/\S+ \S+\z/,
		    "RFC 3164 datagram around one squid line: " . substr($d, 0, 60));
		my ($p, $pid) = $d =~ /^<(\d+)>.*? viaduct\[(\d+)\]:/;
		$pri{$p}++;
		ok((grep { $_ == ($pid // -1) } @wpids), "tag viaduct[pid] names a worker ($pid)");
		unlike($d, qr/\n/, 'no newline in the datagram');
	}
	is_deeply([keys %pri], [19 * 8 + 6], 'priority local3.info (158)');
	my @res = map { m{ ([A-Z_]+)/(\d{3}) } ? "$1/$2" : '?' } @raw;
	is((grep { $_ eq 'TCP_MEM_HIT/200' || $_ eq 'TCP_HIT/200' } @res), 2, 'two hit lines');
	is((grep { $_ eq 'TCP_DENIED/403' } @res), 1, 'one denied line');
}
ok(!-e "$dir/access.log" && !-e "$dir/syslog" && !-e 'syslog', 'no access log file was created');

# GoAccess's SQUID preset reads the syslog file and counts what monitor counts
{
	my ($gst, $gout, $gerr) = run_cmd(['goaccess', $file, '--no-global-config',
	    '--log-format=SQUID', '-o', 'json']);
	is($gst, 0, 'goaccess --log-format=SQUID runs') or diag($gerr);
	my $g = eval { $json->decode($gout) } // {};
	is($g->{general}{total_requests}, $m->{requests}, 'goaccess: total_requests = monitor requests');
	# the unparsable request is logged as Squid logs it, method NONE, which
	# GoAccess counts but refuses (as it does in Squid's own logs)
	is($g->{general}{valid_requests}, $m->{requests} - 1, 'goaccess: every other line valid');
	is($g->{general}{failed_requests}, 1, 'goaccess: one failed line (method NONE)');
	my %vh = map { $_->{data} => $_->{hits}{count} } @{ $g->{vhosts}{data} // [] };
	# GoAccess 1.7's SQUID preset splits on single spaces, so on days 1-9
	# ("Dec  2", as syslog pads them) it reads the time as the host field
	my ($day) = lines_of($file)->[0] =~ /^\w{3} ([ \d]\d) /;
	if (defined $day && $day =~ /^\d\d$/) {
		is_deeply(\%vh, { testhost => $n - 1 },
		    'goaccess: the syslog host field is read as the virtual host');
	} else {
		my $sum = 0;
		$sum += $_ for values %vh;
		is($sum, $n - 1, "goaccess: every valid line has a virtual host (day '$day')");
	}
	my %st;
	for my $grp (@{ $g->{status_codes}{data} // [] }) {
		$st{ ($_->{data} =~ /^(\d{3})/)[0] } += $_->{hits}{count} for @{ $grp->{items} };
	}
	is_deeply(\%st, { 200 => 4, 404 => 1, 502 => 1, 403 => 1 }, 'goaccess: the status mix');
}

# a reader that stops: the queue fills, lines are dropped and counted, and
# every request is still answered at once
{
	kill 'STOP', $reader;
	my $k = 40;
	my @st = map { get("http://127.0.0.1:$op/a") } 1 .. $k;
	is((grep { $_ == 200 } @st), $k, "$k requests answered while the reader is stopped");
	my $mm = ctl_json('monitor', '--json');
	cmp_ok($mm->{'syslog-dropped'}, '>', 0, "some lines dropped ($mm->{'syslog-dropped'})");
	kill 'CONT', $reader;
	ok(wait_until(sub { @{ lines_of($file) } + $mm->{'syslog-dropped'} >= $n + $k }, 10),
	    'received + dropped = every request');
	is(@{ lines_of($file) } + $mm->{'syslog-dropped'}, $n + $k, 'exactly: nothing lost uncounted');
	my ($st, $text) = run_cmd([$ctl, '-f', $cf, 'metrics']);
	like($text, qr/^viaduct_syslog_dropped_total $mm->{'syslog-dropped'}$/m,
	    'metrics: viaduct_syslog_dropped_total');
}

# the socket gone: dropped and counted too, then found again once it is back
{
	kill 'TERM', $reader;
	waitpid($reader, 0);
	unlink $sock_path;
	my $before = ctl_json('monitor', '--json')->{'syslog-dropped'};
	is(get("http://127.0.0.1:$op/a"), 200, 'answered with no syslog socket');
	is(ctl_json('monitor', '--json')->{'syslog-dropped'}, $before + 1, 'that line dropped and counted');
	like(slurp($v->errlog) // '', qr/syslog socket \Q$sock_path\E did not take a line/,
	    'the error log says why, once');
	my $had = @{ lines_of($file) };
	$reader = start_reader();
	is(get("http://127.0.0.1:$op/c"), 200, 'a request after the daemon is back');
	ok(wait_until(sub { @{ lines_of($file) } == $had + 1 }, 10),
	    'a restarted daemon gets the next line (the socket is not kept connected)');
	like(lines_of($file)->[-1], qr{ testhost viaduct\[\d+\]: .* GET http://127\.0\.0\.1:$op/c }, 'its line');
}

is($v->stop, 0, 'viaduct stops cleanly');
kill 'TERM', $reader;
waitpid($reader, 0);
done_testing();
