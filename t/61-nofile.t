#!/usr/bin/perl
# Out of file descriptors (a worker's RLIMIT_NOFILE cut to 40 with
# prlimit(1) while 100 clients come at once): nothing crashes or mixes up;
# a request whose origin connection cannot be opened gets 503 (our
# shortage, not the origin's fault: not 502); clients past the limit wait
# in the listen queue and are served once descriptors come free; the
# failing accept() is logged once a minute, not every 50 ms; and the
# master raises its soft limit to the hard one at start (the workers
# inherit it).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($p) = $req =~ m{^\S+ (\S+)};
	sleep 1;
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($p) . "\r\n\r\n$p";
});
my $o = '127.0.0.1:' . $origin->port;
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~ s/workers=2/workers=1/r);
my $w;
ok(wait_until(sub { ($w) = grep { (slurp("/proc/$_/comm") // '') =~ /^viaduct\n/ } $v->children; $w }),
    'the worker');
my ($soft, $hard) = (slurp("/proc/$w/limits") // '') =~ /^Max open files\s+(\d+)\s+(\d+)/m;
is($soft, $hard, 'the worker runs with the soft open-files limit raised to the hard one');
is(system('prlimit', "--pid=$w", "--nofile=40:$hard"), 0, 'prlimit cuts the worker to 40 descriptors');

my (@c, %status);
for my $i (1 .. 100) {
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port, Timeout => 5)
	    or last;
	$s->autoflush(1);
	push @c, [ $s, $i, '' ];
}
is(scalar @c, 100, '100 clients connected (the listen queue holds those not accepted)');
sleep 0.5;	# the worker takes as many as it has descriptors for: none left over
print { $_->[0] } "GET http://$o/r$_->[1] HTTP/1.1\r\nHost: $o\r\nConnection: close\r\n\r\n" for @c;
my $sel = IO::Select->new(map { $_->[0] } @c);
my %by = map { fileno($_->[0]) => $_ } @c;
my $end = time + 60;
while ($sel->count && time < $end) {
	for my $s ($sel->can_read(1)) {
		my $e = $by{fileno $s};
		my $n = sysread($s, $e->[2], 65536, length $e->[2]);
		next if $n;
		$sel->remove($s);
	}
}
my $mixed = 0;
for my $e (@c) {
	my ($st) = $e->[2] =~ m{\AHTTP/1\.1 (\d{3}) };
	$status{$st // 'none'}++;
	$mixed++ if defined $st && $st eq '200' && $e->[2] !~ m{\r\n\r\n/r$e->[1]\z};
}
diag(join(', ', map { "$_: $status{$_}" } sort keys %status));
is($mixed, 0, 'every 200 carries its own request\'s answer');
ok(($status{200} // 0) > 0, 'some were served');
is(join(',', sort grep { $_ ne '200' && $_ ne '503' } keys %status), '',
    'the others got 503 (no 502, none without an answer)');
close $_->[0] for @c;

my $log = slurp($v->errlog) // '';
my $warned = () = $log =~ /accept \(said once a minute while it lasts\)/g;
cmp_ok($warned, '<=', 1, 'accept() failures said at most once');
is(system('prlimit', "--pid=$w", "--nofile=$soft:$hard"), 0, 'the limit given back');
like(http_get($v->port, "http://$o/after") // '', qr{\r\n\r\n/after\z}, 'then served as before');
ok(alive($w), 'the same worker, still running');
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
