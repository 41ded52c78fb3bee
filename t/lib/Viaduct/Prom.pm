package Viaduct::Prom;
# A strict reader of the Prometheus text exposition format 0.0.4, shared by
# the tests of `viaductctl metrics` and the admin listener's /metrics.
#
#   my ($val, $type, $errs) = parse_prom($text);
#   $val->{'name{label=value,...}'} = sample value (labels sorted; '{}' none)
#   $type->{name} = counter|gauge|...; @$errs lists every violation found
#   agrees_with_monitor($val, $type, $m, qr/^(?:requests)$/): Test::More
#   checks that every counter of `viaductctl monitor --json --workers` ($m)
#   is a family with the same summed value and one sample per worker (the
#   fields matching the pattern compared per worker too)
use strict;
use warnings;
use Exporter 'import';
use Test::More;

our @EXPORT = qw(parse_prom agrees_with_monitor);

# A strict reader of the text exposition format 0.0.4: every sample belongs to
# a family with one HELP and one TYPE line before its samples, families are
# contiguous, names and labels are well formed, no series repeats.
sub parse_prom {
	my ($text) = @_;
	my (%help, %type, %seen, %closed, %val, @err);
	my $cur = '';
	my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
	push @err, 'does not end with a newline' unless $text =~ /\n\z/;
	for my $l (split /\n/, $text) {
		if ($l =~ /^# HELP ($name_re) (.*)$/) {
			push @err, "second HELP for $1" if $help{$1}++;
			push @err, "family $1 split" if $closed{$1};
			$closed{$cur} = 1 if $cur ne '' && $cur ne $1;
			$cur = $1;
			push @err, "bad escape in HELP $1" if $2 =~ /\\[^\\n]/;
		} elsif ($l =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
			push @err, "second TYPE for $1" if $type{$1};
			push @err, "TYPE $1 after its samples" if $seen{$1};
			push @err, "family $1 split" if $closed{$1};
			$closed{$cur} = 1 if $cur ne '' && $cur ne $1;
			$cur = $1;
			$type{$1} = $2;
		} elsif ($l =~ /^#/) {
			push @err, "bad comment: $l";
		} elsif ($l =~ /^($name_re)(?:\{(.*)\})? (\S+)$/) {
			my ($n, $labels, $v) = ($1, $2 // '', $3);
			push @err, "sample $n without TYPE" unless $type{$n};
			push @err, "sample $n outside its family" if $n ne $cur;
			push @err, "counter $n not named _total" if ($type{$n} // '') eq 'counter' && $n !~ /_total$/;
			push @err, "bad value $v" unless $v =~ /^(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|NaN|[-+]Inf)$/;
			my %lab;
			my $rest = $labels;
			while ($rest ne '') {
				if ($rest =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)//) {
					push @err, "label $1 twice in $l" if exists $lab{$1};
					$lab{$1} = $2;
				} else { push @err, "bad labels: $l"; last }
			}
			my $key = $n . '{' . join(',', map { "$_=$lab{$_}" } sort keys %lab) . '}';
			push @err, "series $key twice" if exists $val{$key};
			$val{$key} = $v;
			$seen{$n} = 1;
		} else {
			push @err, "unparsable line: $l";
		}
	}
	for my $n (keys %type) { push @err, "TYPE $n without HELP" unless $help{$n} }
	return (\%val, \%type, \@err);
}

sub agrees_with_monitor {
	my ($val, $type, $m, $per_worker) = @_;
	my @fields = grep { /^(?:accepted|client-connections|server-connections|requests|responses-|received-|sent-|hits|upstream-|cache-used|inserts-|lookups-)/ } keys %$m;
	cmp_ok(scalar @fields, '>=', 23, 'every counter of monitor --json');
	for my $f (sort @fields) {
		(my $n = "viaduct_$f") =~ tr/-/_/;
		$n .= '_total' if ($type->{"${n}_total"} // '') eq 'counter';
		ok(defined $type->{$n}, "$f: family $n") or next;
		is($val->{"$n\{}"}, $m->{$f}, "$n = monitor's $f ($m->{$f})");
		my $nw = 0;
		for my $w (@{ $m->{workers} }) {
			my $k = "$n\{worker=$w->{slot}}";
			$nw++ if defined $val->{$k};
			is($val->{$k}, $w->{$f}, "$n worker $w->{slot}") if $f =~ $per_worker;
		}
		is($nw, scalar @{ $m->{workers} }, "$n: one sample per worker");
	}
}

1;
