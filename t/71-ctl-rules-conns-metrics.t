#!/usr/bin/perl
# viaductctl rules (hit counts per rule, kept across a worker's kill -9),
# connections (a slow response seen as waiting, then tx-body, with the
# right addresses and byte counts) and metrics (a strict parser of the
# Prometheus text format; values equal to monitor --json).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;
use Viaduct::Prom;

my $json = JSON::PP->new;
my $ctl = viaductctl_bin();
my $body = 'x' x 1000;
my $origin = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($path) = $req =~ m{^\S+ (\S+)};
	if ($path eq '/slowhead') {
		return sub { my ($c) = @_; sleep 4;
		    print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" };
	}
	if ($path eq '/slowbody') {
		return sub { my ($c) = @_;
		    print $c "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"; sleep 4;
		    print $c "defghij" };
	}
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});
my $op = $origin->port;

my $conf = default_conf() . <<"CONF";
/ip proxy access
add path=/deny/* action=deny
add dst-host=blocked.test action=deny comment="no blocked"
add path=/allow/* action=allow
add path=/never/* action=deny disabled=yes
/ip proxy cache
add path=*.nocache action=deny
CONF
my $v = start_viaduct(conf => $conf);
my $cf = $v->{conf};

# Fails the test when viaductctl does, but passes silently: it is called
# inside polling loops, whose number of turns must not change the plan.
sub ctl_json {
	my ($st, $out, $err) = run_cmd([$ctl, '-f', $cf, @_]);
	if ($st != 0) {
		fail("viaductctl @_: exit $st");
		diag($err);
	}
	return eval { $json->decode($out) } // {};
}

sub get { http_get($v->port, $_[0]) // '' }

# --- rules -------------------------------------------------------------------
like(get("http://127.0.0.1:$op/deny/$_"), qr{^HTTP/1\.1 403 }, "deny $_") for 1 .. 3;
like(get("http://blocked.test/x"), qr{^HTTP/1\.1 403 }, 'blocked.test denied');
like(get("http://127.0.0.1:$op/allow/$_"), qr{^HTTP/1\.1 200 }, "allow $_") for 1 .. 2;
like(get("http://127.0.0.1:$op/other"), qr{^HTTP/1\.1 200 }, 'no rule: the default');

my %want = (0 => 3, 1 => 1, 2 => 2, 3 => 0);
sub check_rules {
	my ($tag) = @_;
	my $r = ctl_json('rules', '--json');
	my @a = @{ $r->{access} // [] };
	is(scalar @a, 4, "$tag: four access rules");
	is_deeply([map { $_->{hits} } @a], [map { $want{$_} } 0 .. 3], "$tag: access hits");
	is_deeply([map { $_->{index} } @a], [0 .. 3], "$tag: in order");
	return $r;
}
{
	my $r = check_rules('first');
	my @a = @{ $r->{access} };
	is($a[0]{properties}{path}, '/deny/*', 'rule 0 is path=/deny/*');
	is($a[1]{properties}{comment}, 'no blocked', 'comment kept');
	is($a[3]{disabled}, JSON::PP::true, 'disabled rule marked');
	ok(!$a[0]{disabled}, 'enabled rule not marked');
	my @lines = map { $_->{line} } @a;
	my @cl = split /\n/, $conf;
	for my $i (0 .. 3) {
		like($cl[$lines[$i] - 1] // '', qr/^add /, "rule $i: line $lines[$i] is its add line");
	}
	is($cl[$lines[0] - 1], 'add path=/deny/* action=deny', 'line number of rule 0 exact');
	is(scalar @{ $r->{cache} }, 1, 'cache list: one rule');
	is($r->{cache}[0]{properties}{action}, 'deny', 'cache rule');
	is_deeply($r->{direct}, [], 'direct list empty');

	my ($st, $out) = run_cmd([$ctl, '-f', $cf, 'rules']);
	is($st, 0, 'rules: exit 0');
	like($out, qr{^/ip proxy access$}m, 'text: access heading');
	like($out, qr{^\s*0\s+\d+\s+3\s+path=/deny/\* action=deny$}m, 'text: rule 0 with 3 hits');
	like($out, qr{^\s*3 X\s+\d+\s+0\s+path=/never/\*}m, 'text: disabled rule flagged X');
	like($out, qr{^/ip proxy direct$}m, 'text: direct heading');
}
{
	# kill -9 every worker in turn: their hits are folded, never lost
	my $m = ctl_json('monitor', '--json', '--workers');
	my @w = map { $_->{pid} } @{ $m->{workers} // [] };
	is(scalar @w, 2, 'two workers');
	for my $pid (@w) {
		kill 'KILL', $pid;
		ok(wait_until(sub {
			my $mm = ctl_json('monitor', '--json', '--workers');
			my @p = map { $_->{pid} } @{ $mm->{workers} // [] };
			@p == 2 && !grep { $_ == $pid } @p
		}, 15), "worker $pid replaced");
	}
	check_rules('after kill -9');
	like(get("http://127.0.0.1:$op/deny/again"), qr{^HTTP/1\.1 403 }, 'deny again');
	$want{0}++;
	check_rules('after one more');
}

# --- connections ---------------------------------------------------------------
sub find_conn {
	my ($port, $state) = @_;
	my $hit;
	wait_until(sub {
		my $c = ctl_json('connections', '--json');
		($hit) = grep { $_->{'src-address'} eq "127.0.0.1:$port" &&
		    $_->{state} eq $state } @{ $c->{connections} // [] };
		$hit
	}, 10);
	return $hit;
}
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die;
	my $req = "GET http://127.0.0.1:$op/slowhead HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n";
	print $s $req;
	my $c = find_conn($s->sockport, 'waiting');
	ok($c, 'slow origin before its headers: waiting');
	is($c->{'dst-address'}, "127.0.0.1:$op", 'waiting: dst-address is the origin');
	is($c->{protocol}, 'http', 'protocol http');
	is($c->{'rx-bytes'}, length $req, 'rx-bytes = the request bytes');
	my $t0 = time;
	my $resp = '';
	while ($resp !~ /\r\n\r\nok/ && time - $t0 < 10) { sysread($s, $resp, 4096, length $resp) or last }
	like($resp, qr{^HTTP/1\.1 200 }, 'slowhead answered');
	my $idle = find_conn($s->sockport, 'idle');
	ok($idle, 'after the response: idle (keep-alive)');
	is($idle->{'tx-bytes'}, length $resp, 'tx-bytes = the response bytes') if $idle;
	is($idle->{requests}, 1, 'one request on it') if $idle;
	close $s;
}
{
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port) or die;
	my $port = $s->sockport;
	my $req = "GET http://127.0.0.1:$op/slowbody HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n";
	print $s $req;
	my $c = find_conn($port, 'tx-body');
	ok($c, 'slow body: tx-body');
	is($c->{'dst-address'}, "127.0.0.1:$op", 'tx-body: dst-address is the origin');
	is($c->{'rx-bytes'}, length $req, 'rx-bytes = the request bytes');
	cmp_ok($c->{'tx-bytes'}, '>', 0, 'tx-bytes: the head is out');
	cmp_ok($c->{age}, '>=', 0, 'age');
	my ($st, $out) = run_cmd([$ctl, '-f', $cf, 'connections']);
	like($out, qr{^SRC-ADDRESS\s+DST-ADDRESS\s+PROTOCOL\s+STATE\s+RX-BYTES\s+TX-BYTES\s+AGE$}m,
	    'text: header');
	like($out, qr{^127\.0\.0\.1:$port\s+127\.0\.0\.1:$op\s+http\s+tx-body\s+\d+\s+\d+\s+\d+s$}m,
	    'text: the slow connection');
	close $s;
	ok(wait_until(sub { my $cc = ctl_json('connections', '--json');
	    !grep { $_->{'src-address'} eq "127.0.0.1:$port" } @{ $cc->{connections} } }, 10),
	    'a closed connection disappears');
}

# --- metrics -------------------------------------------------------------------
# parse_prom: the strict reader of the text format (t/lib/Viaduct/Prom.pm)
{
	my ($st, $text, $err) = run_cmd([$ctl, '-f', $cf, 'metrics']);
	is($st, 0, 'metrics: exit 0') or diag($err);
	my $m = ctl_json('monitor', '--json', '--workers');
	my ($val, $type, $errs) = parse_prom($text);
	is_deeply($errs, [], 'the exposition parses strictly') or diag(join("\n", @$errs));
	agrees_with_monitor($val, $type, $m, qr/^requests$/);
	is($type->{viaduct_requests_total}, 'counter', 'requests is a counter');
	is($type->{viaduct_client_connections}, 'gauge', 'client-connections is a gauge');
	my $r = ctl_json('rules', '--json');
	for my $rule (@{ $r->{access} }) {
		is($val->{"viaduct_rule_hits_total{index=$rule->{index},line=$rule->{line},list=access}"},
		    $rule->{hits}, "rule hits access $rule->{index}");
	}
	like($val->{'viaduct_start_time_seconds{}'}, qr/^\d+$/, 'start time');
}

is($v->stop, 0, 'viaduct stops cleanly');

# --- a reload that changes a list: hits are by position, so they start again
# (they landed on the rules below the inserted one); one that keeps the
# lists keeps them
{
	my $base = default_conf() =~ s/workers=2/workers=1/r;
	my $rules = "/ip proxy access\nadd path=/x/* action=deny\nadd path=/y/* action=deny\n";
	my $w = start_viaduct(conf => $base . $rules);
	$cf = $w->{conf};
	my $wget = sub { http_get($w->port, "http://127.0.0.1:$op$_[0]") // '' };
	$wget->("/x/$_") for 1 .. 2;
	$wget->("/y/$_") for 1 .. 3;
	is_deeply([map { $_->{hits} } @{ ctl_json('rules', '--json')->{access} // [] }], [2, 3],
	    'hits before the reload');
	$w->write_conf($base . "/ip proxy access\nadd path=/new/* action=deny\n" .
	    "add path=/x/* action=deny\nadd path=/y/* action=deny\n");
	$w->signal('HUP');
	ok($w->wait_log(qr/the rule lists changed: their hit counters start from zero/),
	    'a reload that inserts a rule: the error log says the counters restart');
	ok(wait_until(sub { !grep { $_->{hits} } @{ ctl_json('rules', '--json')->{access} // [] } }),
	    'no rule shows hits it did not have');
	$wget->('/y/again');
	is_deeply([map { $_->{hits} } @{ ctl_json('rules', '--json')->{access} // [] }], [0, 0, 1],
	    'a new hit lands on its rule');
	$w->signal('HUP');		# the same lists: the counts stay
	ok($w->wait_log(qr/reloaded: generation 2/), 'reloaded with the same lists');
	$wget->('/x/again');
	ok(wait_until(sub { my @h = map { $_->{hits} } @{ ctl_json('rules', '--json')->{access} // [] };
	    "@h" eq '0 1 1' }), 'the counts stay through a reload that keeps the lists');
	is($w->stop, 0, 'stops cleanly');
}
done_testing();
