#!/usr/bin/perl
# Access log lines stay whole and none is lost: across USR1 rotation (mv the
# log, USR1: new lines go to the new file), across reloads under load, and at
# a graceful stop with a response still in flight.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ \S*?(/[^ ]*) };
	if ($path =~ m{^/slow}) {
		return sub {
			my ($c) = @_;
			my $b = "slow body\n";
			print $c "HTTP/1.1 200 OK\r\nContent-Length: " . length($b) .
			    "\r\nConnection: close\r\n\r\n";
			sleep 1.5;
			print $c $b;
		};
	}
	my $b = "x" x 100 . "\n";
	return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .
	    length($b) . "\r\n\r\n$b";
});
my $op = $origin->port;
my $line_re = qr{^\d+\.\d{3} [ \d]{5}\d 127\.0\.0\.1 [A-Z_]+/\d{3} \d+ \S+ \S+ - \S+/\S+ \S+$};

# $nclients processes send requests one after another until $dir/stop.$tag
# exists (at most $each each); each writes the URLs that got a complete 200
# to its own file.  Returns the pids.
sub load {
	my ($port, $dir, $tag, $nclients, $each) = @_;
	my @pids;
	for my $k (1 .. $nclients) {
		my $pid = fork // die "fork: $!";
		if ($pid == 0) {
			open(my $fh, '>', "$dir/ok.$tag.$k") or POSIX::_exit(1);
			for my $i (1 .. $each) {
				last if -e "$dir/stop.$tag";
				my $url = "http://127.0.0.1:$op/$tag/$k/$i";
				my $r = http_get($port, $url) // '';
				print $fh "$url\n" if $r =~ m{^HTTP/1\.1 200 .*\r\n\r\nx{100}\n\z}s;
				sleep 0.005;
			}
			close $fh;
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	return @pids;
}

sub wait_pids { waitpid($_, 0) for @_ }
sub answered {
	my ($dir, $tag) = @_;
	my @u;
	for my $f (glob "$dir/ok.$tag.*") { push @u, split /\n/, slurp($f) // '' }
	return @u;
}
sub urls_in {
	my (@files) = @_;
	my (%seen, $bad);
	for my $f (@files) {
		for my $l (split /\n/, slurp($f) // '') {
			$bad++ unless $l =~ $line_re;
			my (undef, undef, undef, undef, undef, undef, $url) = split / +/, $l;
			$seen{$url}++ if defined $url;
		}
	}
	return (\%seen, $bad // 0);
}

# --- USR1 rotation under load ----------------------------------------------------
{
	my $v = start_viaduct();
	my $dir = $v->dir;
	my @pids = load($v->port, $dir, 'rot', 3, 3000);
	ok(wait_until(sub { (-s "$dir/access.log" // 0) > 0 }), 'rotation: lines arrive in the log');
	rename("$dir/access.log", "$dir/access.log.1") or die "rename: $!";
	$v->signal('USR1');
	ok(wait_until(sub { (-s "$dir/access.log" // 0) > 0 }), 'rotation: new lines go to the new file');
	spew("$dir/stop.rot", '');
	wait_pids(@pids);
	is($v->stop, 0, 'rotation: stops cleanly');
	my @ok = answered($dir, 'rot');
	cmp_ok(scalar @ok, '>', 100, 'rotation: the load was served');
	my ($seen, $bad) = urls_in("$dir/access.log.1", "$dir/access.log");
	is($bad, 0, 'rotation: every line in both files is whole');
	is(scalar(grep { ($seen->{$_} // 0) != 1 } @ok), 0,
	    'rotation: every answered request is logged exactly once across the two files');
	my ($seen_new) = urls_in("$dir/access.log");
	cmp_ok(scalar keys %$seen_new, '>', 0, 'rotation: the new file has lines');
}

# --- reloads under load --------------------------------------------------------------
{
	my $v = start_viaduct();
	my $dir = $v->dir;
	my @pids = load($v->port, $dir, 'rel', 3, 3000);
	for my $g (1 .. 3) {
		sleep 0.3;
		$v->signal('HUP');
		$v->wait_log(qr/reloaded: generation $g/);
	}
	sleep 0.3;
	spew("$dir/stop.rel", '');
	wait_pids(@pids);
	# lines written by every generation while it ran, then the rest at the stop
	is($v->stop, 0, 'reload: stops cleanly');
	my @ok = answered($dir, 'rel');
	cmp_ok(scalar @ok, '>', 100, 'reload: the load was served');
	my ($seen, $bad) = urls_in("$dir/access.log");
	is($bad, 0, 'reload: every line is whole');
	is(scalar(grep { ($seen->{$_} // 0) != 1 } @ok), 0,
	    'reload: every answered request is logged exactly once');
	like(slurp($v->errlog) // '', qr/reloaded: generation 3/, 'reload: three reloads happened');
}

# --- a reload whose logs cannot be opened is refused ----------------------------------
# as a start with them fails: the running generation and its logs go on
for my $which ('access-log', 'error-log') {
	my $v = start_viaduct();
	my $dir = $v->dir;
	my @before = $v->children;
	my $conf = slurp($v->{conf});
	(my $bad = $conf) =~ s{$which=\S+}{$which=$dir/no-such-dir/x.log};
	# a new error log that could be opened must not be taken either
	$bad =~ s{error-log=\S+}{error-log=$dir/error2.log} if $which eq 'access-log';
	spew($v->{conf}, $bad);
	$v->signal('HUP');
	ok($v->wait_log(qr{\[error\] master pid \d+: reload: cannot open \Q${\ ($which =~ s/-/ /r)}\E }
	    . qr{\Q$dir/no-such-dir/x.log: No such file or directory; keeping the running configuration\E}),
	    "$which unopenable: the reload is refused, and the error log says why");
	http_get($v->port, "http://127.0.0.1:$op/after-refused");
	is(join(' ', $v->children), join(' ', @before), "$which unopenable: the same processes serve");
	if ($which eq 'access-log') {
		ok(!-s "$dir/error2.log", "$which unopenable: the new error log is not taken");
		ok(wait_until(sub { (slurp("$dir/access.log") // '') =~ m{ GET http://127\.0\.0\.1:$op/after-refused } }),
		    "$which unopenable: requests are still logged to the access log");
	}
	spew($v->{conf}, $conf);
	$v->signal('HUP');
	# the second reload's outcome, whatever it is
	wait_until(sub { my @r = split /\] master pid \d+: reloading /, slurp($v->errlog) // '';
	    @r >= 3 && $r[-1] =~ /reloaded: generation/ });
	is(join(' ', (slurp($v->errlog) // '') =~ /reloaded: generation (\d+)/g), '1',
	    "$which: the next good reload is the first generation change");
	$v->stop;
}

# --- logrotate with contrib/logrotate/viaduct, the master running as nobody ------------
# The master cannot create files in the root-owned log directory after it
# dropped privileges: logrotate creates them for the user, USR1 reopens them.
{
	my $dir = tmpdir_keep();
	chmod 0755, $dir;
	mkdir "$dir/logs", 0755 or die "mkdir: $!";
	(my $conf = default_conf()) =~ s{(error|access)-log=\@DIR\@/}{$1-log=\@DIR\@/logs/}g;
	my $v = start_viaduct(dir => $dir, conf => $conf . "/viaduct\nset user=nobody group=nogroup\n");
	http_get($v->port, "http://127.0.0.1:$op/before-rotate");
	wait_until(sub { (slurp("$dir/logs/access.log") // '') =~ /before-rotate/ });
	my $lr = slurp(src_dir() . '/contrib/logrotate/viaduct') // '';
	my $ctl = viaductctl_bin();
	$lr =~ s{/var/log/viaduct}{$dir/logs}g;
	$lr =~ s{/etc/viaduct/viaduct\.conf}{$dir/viaduct.conf}g;
	$lr =~ s{/run/viaduct\.pid}{$dir/viaduct.pid}g;
	$lr =~ s{^(\s+)viaductctl }{$1$ctl }m;
	$lr =~ s{create (\d+) proxy proxy}{create $1 nobody nogroup};
	spew("$dir/logrotate.conf", $lr);
	my ($st, $out, $err) = run_cmd(['logrotate', '-s', "$dir/logrotate.state", '-f', "$dir/logrotate.conf"]);
	diag("logrotate: $st $out $err") if $st != 0;
	http_get($v->port, "http://127.0.0.1:$op/after-rotate");
	ok(wait_until(sub { (slurp("$dir/logs/access.log") // '') =~ m{/after-rotate } }),
	    'logrotate as shipped, master as nobody: new lines go to the new access log');
	like(slurp("$dir/logs/error.log") // '', qr/reopened log files/,
	    'logrotate: the master reopened both logs, the new error log says so');
	# without logrotate's create (mv and USR1 by hand) the master, as
	# nobody, cannot create them: the logs stay as they were, and it says why
	rename("$dir/logs/$_.log", "$dir/logs/$_.log.9") for qw(access error);
	$v->signal('USR1');
	ok(wait_until(sub { (slurp("$dir/logs/error.log.9") // '') =~ m{cannot open error log \Q$dir\E/logs/error\.log: Permission denied \(the master runs as user nobody: create the file owned by it first} }),
	    'mv + USR1 as nobody: the error log says why it cannot create the new files');
	$v->stop;
}

# --- TERM with a response in flight ----------------------------------------------------
{
	my $v = start_viaduct();
	my $dir = $v->dir;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    Proto => 'tcp', Timeout => 5) or die;
	print $s "GET http://127.0.0.1:$op/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	my $buf = '';
	my $end = time + 10;
	while ($buf !~ /\r\n\r\n/ && time < $end) {
		my $rin = ''; vec($rin, fileno($s), 1) = 1;
		select(my $r = $rin, undef, undef, 0.5) or next;
		sysread($s, $buf, 65536, length $buf) or last;
	}
	like(http_get($v->port, "http://127.0.0.1:$op/before-term") // '', qr{^HTTP/1\.1 200 },
	    'TERM: a quick request before the stop');
	$v->signal('TERM');
	while (time < $end) {
		my $rin = ''; vec($rin, fileno($s), 1) = 1;
		select(my $r = $rin, undef, undef, 0.5) or next;
		sysread($s, $buf, 65536, length $buf) or last;
	}
	like($buf, qr/slow body\n\z/, 'TERM: the slow response completes');
	is($v->stop(signal => 0), 0, 'TERM: exits 0');
	my $log = slurp("$dir/access.log") // '';
	my @lines = split /\n/, $log;
	is(scalar @lines, 2, 'TERM: both requests are logged');
	is(scalar(grep { $_ =~ $line_re } @lines), 2, 'TERM: and both lines are whole');
	like($log, qr{ TCP_MISS/200 \d+ GET http://127\.0\.0\.1:$op/slow - HIER_DIRECT/127\.0\.0\.1 -\n},
	    'TERM: the in-flight request is logged when it ends');
}

done_testing();
