#!/usr/bin/perl
# Collapsed-forwarding client for contrib/bench/run (collapse mode): ROUNDS
# times, CLIENTS connections ask for one new URL (PATH?r=TAG-ROUND) at the
# same moment, and each response is timed from that moment: its first byte
# and its end.  The origin sends the body slowly (nginx limit_rate), so a
# proxy that streams the fetch to the waiters (read-while-writer) gives them
# their first bytes at once, one that makes them wait for the stored object
# only at the end, and one that does not collapse asks the origin CLIENTS
# times.
#
#   collapse.pl PORT PATH HOST CLIENTS ROUNDS TAG LENGTH
#     HOST "" for origin-form (a reverse proxy), else the origin's host:port
#     (absolute-form to a forward proxy); LENGTH the body's expected size.
#
# Prints one line that run parses (medians over every response of every
# round, milliseconds):
#   COLLAPSE ttfb_p50=.. ttfb_p90=.. done_p50=.. done_p90=.. done_max=.. bad=..
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($port, $path, $host, $clients, $rounds, $tag, $length) = @ARGV;
die "usage: $0 PORT PATH HOST CLIENTS ROUNDS TAG LENGTH\n" unless defined $length;

my (@ttfb, @done);
my $bad = 0;

sub pct {
	my ($p, @v) = @_;
	@v = sort { $a <=> $b } @v;
	return @v ? $v[int($p * $#v + 0.5)] : -1;
}

# The response in $buf: complete, 200 and LENGTH body bytes?
sub whole {
	my ($buf) = @_;
	return 0 unless $buf =~ m{\AHTTP/1\.[01] 200 [^\r\n]*\r\n(.*?)\r\n\r\n}s;
	return length($buf) - $+[0] == $length;
}

sub round {
	my ($r) = @_;
	my $url = "$path?r=$tag-$r";
	my $target = $host eq '' ? $url : "http://$host$url";
	my $hosthdr = $host eq '' ? "127.0.0.1:$port" : $host;
	my $req = "GET $target HTTP/1.1\r\nHost: $hosthdr\r\nConnection: close\r\n\r\n";
	my (@s, %buf, %first);
	for (1 .. $clients) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		    Proto => 'tcp', Timeout => 10) or die "connect: $!";
		push @s, $s;
	}
	my $sel = IO::Select->new(@s);
	my $t0 = time;
	syswrite($_, $req) == length $req or die "write: $!" for @s;
	while ($sel->count > 0 && time - $t0 < 30) {
		for my $s ($sel->can_read(1)) {
			my $n = sysread($s, $buf{$s}, 65536, length($buf{$s} // ''));
			my $t = (time - $t0) * 1000;
			$first{$s} //= $t if $n;
			next if $n;
			$sel->remove($s);
			push @ttfb, $first{$s} // $t;
			push @done, $t;
			$bad++ unless whole($buf{$s} // '');
		}
	}
	$bad += $sel->count;
	close $_ for @s;
}

round($_) for 1 .. $rounds;
printf "COLLAPSE ttfb_p50=%.1f ttfb_p90=%.1f done_p50=%.1f done_p90=%.1f done_max=%.1f bad=%d\n",
    pct(0.5, @ttfb), pct(0.9, @ttfb), pct(0.5, @done), pct(0.9, @done), pct(1, @done), $bad;
