#!/usr/bin/perl
# Privileges: started as root with user=nobody, the master keeps only
# CAP_NET_BIND_SERVICE (and only when a port below 1024 is configured); the
# workers keep nothing and have no_new_privs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

ok($> == 0, 'the privilege tests run as root') or do { done_testing(); exit 1 };

my ($nobody_uid, $nogroup_gid) = ((getpwnam 'nobody')[2], (getgrnam 'nogroup')[2]);
my $origin = Viaduct::Origin->new;
my $oport = $origin->port;

sub conf_for {
	my (%o) = @_;
	return default_conf() . "/viaduct\nset user=nobody group=nogroup\n" .
	    ($o{extra} // '');
}

# A low port (< 1024) nobody listens on now.
sub free_low_port {
	for my $p (81 .. 1023) {
		my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
		    LocalPort => $p, Proto => 'tcp', ReuseAddr => 1) or next;
		close $s;
		return $p;
	}
	return undef;
}

sub check_procs {
	my ($v, $what, $master_caps) = @_;
	my $m = proc_status($v->pid);
	ok($m, "$what: master status readable") or return;
	is($m->{Uid}, join("\t", ($nobody_uid) x 4), "$what: master runs as nobody (all four uids)");
	is($m->{Gid}, join("\t", ($nogroup_gid) x 4), "$what: master group nogroup");
	is($m->{Groups}, "$nogroup_gid", "$what: master supplementary groups only nogroup");
	is($m->{CapEff}, $master_caps, "$what: master effective caps");
	is($m->{CapPrm}, $master_caps, "$what: master permitted caps");
	is($m->{CapInh}, '0000000000000000', "$what: master inheritable caps none");
	my @w = $v->children;
	ok(@w >= 2, "$what: workers running") or return;
	# a child seen right after fork() has not dropped anything yet: wait
	# (bounded) until each reports that it serves, then look at it
	wait_until(sub { !grep { ((proc_status($_) // {})->{NoNewPrivs} // 1) != 1 } @w }, 10);
	for my $pid (@w) {
		my $s = proc_status($pid) or next;
		is($s->{Uid}, join("\t", ($nobody_uid) x 4), "$what: worker $pid runs as nobody");
		is($s->{CapEff}, '0000000000000000', "$what: worker $pid CapEff 0");
		is($s->{CapPrm}, '0000000000000000', "$what: worker $pid CapPrm 0");
		is($s->{NoNewPrivs}, 1, "$what: worker $pid NoNewPrivs 1");
	}
}

{
	my $dir = tmpdir_keep();
	chmod 0755, $dir;
	my $v = start_viaduct(dir => $dir, conf => conf_for());
	ok(wait_until(sub { (() = $v->children) >= 2 }), 'high port: workers up');
	check_procs($v, 'high port', '0000000000000000');
	like(http_get($v->port, "http://127.0.0.1:$oport/p") // '',
	    qr{hello from origin: /p\n\z}, 'high port: serves as nobody');

	# a reload as nobody still works (config readable, no new port)
	my @old = $v->children;
	$v->signal('HUP');
	ok($v->wait_log(qr/reloaded: generation 1/), 'reload as nobody succeeds');
	ok(wait_until(sub { my %o = map { $_ => 1 } @old;
	    my @n = $v->children; @n >= 2 && !grep { $o{$_} } @n }), 'new generation replaced the old');
	check_procs($v, 'after reload', '0000000000000000');
	is($v->stop, 0, 'high port: stops with 0');
}

# root never writes through a link the service user planted (the nginx
# CVE-2016-1247 pattern): logs and the pid file in a directory nobody owns
for my $which ('error-log', 'access-log', 'pid-file') {
	my $dir = tmpdir_keep();
	chmod 0755, $dir;
	mkdir "$dir/logs";
	chown $nobody_uid, $nogroup_gid, "$dir/logs";
	spew("$dir/victim", "secret\n");
	chmod 0600, "$dir/victim";
	my $name = { 'error-log' => 'error.log', 'access-log' => 'access.log', 'pid-file' => 'v.pid' }->{$which};
	# the service user makes the link
	my $pid = fork // die;
	if ($pid == 0) {
		$) = "$nogroup_gid $nogroup_gid";
		$> = $nobody_uid;
		symlink("$dir/victim", "$dir/logs/$name") or POSIX::_exit(1);
		POSIX::_exit(0);
	}
	waitpid($pid, 0);
	is($?, 0, "$which: nobody planted a link");
	my $c = conf_for(extra => "set $which=\@DIR\@/logs/$name\n");
	my ($st, $out, $err) = run_cmd([viaduct_bin(), '-F', '-f', do {
		(my $t = $c) =~ s/\@DIR\@/$dir/g; $t =~ s/\@PORT\@/@{[free_port()]}/g;
		spew("$dir/v.conf", $t); "$dir/v.conf" }], timeout => 10);
	isnt($st, 0, "$which: a link of nobody's: start refused");
	like($out . $err . (slurp("$dir/error.log") // ''), qr/symbolic link of uid $nobody_uid is not followed/,
	    "$which: saying why");
	my @s = stat "$dir/victim";
	is($s[4], 0, "$which: the link's target still belongs to root");
	is(slurp("$dir/victim"), "secret\n", "$which: and is untouched");
}

# a store left by a run as root: the start as nobody fails, saying why
# (it used to start, the cache manager died, and nothing was cached)
{
	my $dir = tmpdir_keep();
	chmod 0755, $dir;
	my $c = default_conf() =~ s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=100MiB}r;
	my $v = start_viaduct(dir => $dir, conf => $c);
	like(http_get($v->port, "http://127.0.0.1:$oport/root-run") // '', qr{hello from origin},
	    'a run as root');
	is($v->stop, 0, '... stopped');
	ok(-e "$dir/run/cache/data.mdb", '... left a store in run-dir');
	chown $nobody_uid, $nogroup_gid, "$dir/cache";	# cache-path is nobody's now
	(my $t = $c . "/viaduct\nset user=nobody group=nogroup\n") =~ s/\@DIR\@/$dir/g;
	$t =~ s/\@PORT\@/@{[free_port()]}/g;
	spew("$dir/v2.conf", $t);
	my ($st, $out, $err) = run_cmd([viaduct_bin(), '-F', '-f', "$dir/v2.conf"], timeout => 10);
	is($st >> 8, 1, 'then as nobody: the start fails');
	like($err . (slurp("$dir/error.log") // ''), qr{cache store \Q$dir\E/run/cache\S* is not writable by nobody},
	    '... naming the store and the user');
}

SKIP: {
	my $low = free_low_port();
	ok(defined $low, 'a free port below 1024') or skip('no free low port', 1);
	my $dir = tmpdir_keep();
	chmod 0755, $dir;
	my $v = start_viaduct(dir => $dir, port => $low, conf => conf_for());
	ok(wait_until(sub { (() = $v->children) >= 2 }), 'low port: workers up');
	check_procs($v, 'low port', '0000000000000400');
	like(http_get($low, "http://127.0.0.1:$oport/low") // '',
	    qr{hello from origin: /low\n\z}, "low port $low: serves");

	# the kept capability lets a reload bind another low port
	my $low2 = free_low_port();
	$low2 = undef if defined $low2 && $low2 == $low;
	if (!defined $low2) {
		for my $p ($low + 1 .. 1023) {
			my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
			    LocalPort => $p, Proto => 'tcp', ReuseAddr => 1) or next;
			close $s; $low2 = $p; last;
		}
	}
	$v->write_conf(conf_for(extra => "set listen=127.0.0.1:$low2\n"));
	$v->signal('HUP');
	ok($v->wait_log(qr/reloaded: generation 1/), 'reload adding a low port as nobody');
	ok(wait_port($low2), "the new low port $low2 accepts");
	like(http_get($low2, "http://127.0.0.1:$oport/low2") // '',
	    qr{hello from origin: /low2\n\z}, 'and serves');
	is($v->stop, 0, 'low port: stops with 0');
}

done_testing();
