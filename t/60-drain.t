#!/usr/bin/perl
# What is accepted is answered across a reload, a stop and the master's
# death: a response whose head is written while the worker drains says
# Connection: close (else the client's next request on it is lost); a
# request already in an idle connection's socket when the drain starts is
# served, not reset; a reload whose new workers cannot start leaves the old
# generation serving (and a good reload later takes over); workers whose
# master is killed finish their responses before they exit.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

my $big = 'x' x (4 * 1024 * 1024);
my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($p) = $req =~ m{^\S+ (\S+)};
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($big) . "\r\n\r\n" . $big if $p =~ m{/big};
	sleep 1.5 if $p =~ m{/slow};
	my $b = "hello $p\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($b) . "\r\n\r\n$b";
});
my $o = '127.0.0.1:' . $origin->port;
my $conf = Viaduct::Test::default_conf() =~ s/workers=2/workers=1/r;

sub connect_to {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $_[0], Timeout => 5) or die;
	$s->autoflush(1);
	return $s;
}
sub read_head {
	my ($s) = @_;
	my $buf = '';
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while ($buf !~ /\r\n\r\n/) {
		last unless select(my $r = $rin, undef, undef, 10);
		last unless sysread($s, $buf, 65536, length $buf);
	}
	return $buf;
}
sub workers { grep { (slurp("/proc/$_/comm") // '') =~ /^viaduct\n/ } $_[0]->children }

# --- a response written while draining says Connection: close ---------------------
{
	my $v = start_viaduct(conf => $conf);
	my $s = connect_to($v->port);
	print $s "GET http://$o/slow HTTP/1.1\r\nHost: $o\r\n\r\n";
	sleep 0.3;
	$v->signal('HUP');
	my $r = read_head($s);
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nConnection: close\r\n}s,
	    'the answer to a request in flight at a reload says Connection: close');
	close $s;
	is($v->stop, 0, 'stops cleanly');
}

# --- a request already in an idle connection's socket is served, not reset ---------
{
	my $v = start_viaduct(conf => $conf);
	my $s = connect_to($v->port);
	print $s "GET http://$o/one HTTP/1.1\r\nHost: $o\r\n\r\n";
	like(read_head($s), qr{\r\n\r\nhello /one\n}, 'a first request on a kept-alive connection');
	my @old = workers($v);
	kill 'STOP', @old;	# it sees the drain and the next request in one turn
	$v->signal('HUP');
	ok(wait_until(sub { my %o = map { $_ => 1 } @old; grep { !$o{$_} } workers($v) }, 10),
	    'the new generation is up');
	print $s "GET http://$o/two HTTP/1.1\r\nHost: $o\r\n\r\n";
	sleep 0.1;
	kill 'CONT', @old;
	my $r = read_head($s);
	like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nConnection: close\r\n.*\r\n\r\nhello /two\n}s,
	    'a request that came as the drain began is answered (and told close)');
	close $s;
	is($v->stop, 0, 'stops cleanly');
}

# --- a reload whose workers cannot start: the old generation goes on ------------------
{
	my $v = start_viaduct(conf => $conf);
	my $p = $v->port;
	ok(wait_until(sub { workers($v) == 1 }), 'one worker');
	my @old = workers($v);
	# passes `viaduct -t`, but no worker can allocate a million connections
	$v->write_conf($conf . "/ip proxy\nset max-client-connections=1000000\n");
	$v->signal('HUP');
	ok($v->wait_log(qr/reload: no worker of generation \d+ is serving/, 15),
	    'the error log says the new generation did not come up');
	like(http_get($p, "http://$o/still") // '', qr{\r\n\r\nhello /still\n\z},
	    'the previous generation still serves');
	ok(alive($old[0]), '... the same worker');
	$v->write_conf($conf);
	$v->signal('HUP');
	ok($v->wait_log(qr/reload: generation \d+ is serving now/, 15), 'a good reload takes over');
	ok(wait_until(sub { !alive($old[0]) }, 15), 'and the old generation leaves');
	like(http_get($p, "http://$o/after") // '', qr{\r\n\r\nhello /after\n\z}, 'served');
	is($v->stop, 0, 'stops cleanly');
}

# --- the master killed: the workers finish what they have, then exit ---------------
{
	my $v = start_viaduct(conf => $conf);
	my $s = connect_to($v->port);
	setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), 65536);
	print $s "GET http://$o/big HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n";
	my $got = read_head($s);
	my @w = workers($v);
	kill 'KILL', $v->pid;
	waitpid($v->pid, 0);
	$v->{pid} = undef;
	$got .= read_until_close($s, 10);
	my ($h, $b) = split /\r\n\r\n/, $got, 2;
	is(length($b // ''), length($big), 'the download in flight when the master died is whole');
	ok(wait_until(sub { !grep { alive($_) } @w }, 15), 'then the worker exited');
	like(slurp($v->errlog) // '', qr/master went away: finishing the open connections/,
	    'and said so');
}

done_testing();
