"""Runs of lines the readers hand over as one event (``DataRun``, ``CallRun``, ``QuietRun``,
traces/events.py; only check_trace asks for them).

Code moved as it was out of engine.py: :class:`RunSteps` is a mixin of
:class:`~vfio_migcheck.checker.engine.Engine` with the handlers of the three run events and
what only they use: a whole run applied in one step remembered per node
(:meth:`RunSteps._run_step`, :meth:`RunSteps._calls_step`), else in stretches of cached
steps (:meth:`RunSteps._quiet_stretch`, :meth:`RunSteps._call_stretch`), and the aliases
they file in a node's table. The rest of the engine does not call into it.
"""

from __future__ import annotations

from collections.abc import Sequence

from vfio_migcheck.checker.automaton import NEW_FILE, Node, Readings, Transition
from vfio_migcheck.checker.engine_shared import (
    _UNSEEN,
    MAX_CACHED_SAMPLES,
    DeviceTrack,
    Held,
    Replay,
    _establishes_state,
    _overlap,
    _payload,
    _shows_migration,
    _successor,
)
from vfio_migcheck.checker.rules.vmm import u010_malformed_request as U010
from vfio_migcheck.traces.events import (
    UNKNOWN,
    CallRun,
    DataRun,
    Event,
    FeatureCall,
    QuietRun,
    origin_at,
)

#: the QEMU events :meth:`Engine.on_qemu` acts on (all others: nothing once their device
#: is known)
_QEMU_ACTED_ON = frozenset({"migration_set_state", "migration_set_device_state",
                            "migration_init", "migration_realize"})

#: first item of the aliases the fast paths file in a node's table (``Node.trans``) next to
#: the automaton's own entries, under keys cheaper to make than the entry's (the statement or
#: line shape instead of the payload): an alias holds the entry's transition (_call_stretch)
#: or the verdict drawn from it (_quiet_stretch: a quiet self-loop or not), made only once
#: the entry exists, and is forgotten with it (``Automaton.start_afresh``); no key of the
#: automaton's starts with it
_ALIAS = object()
#: heads the aliases of :meth:`Engine._run_step` (a data run's remembered whole step: its
#: plan, or False); no key of the automaton's or of another alias starts with it
_RUN = object()
#: heads the aliases of :meth:`Engine._calls_step` (a run of device calls' remembered
#: step: its plan, or False); no key of the automaton's or of another alias starts with it
_CALLS = object()
#: the states of a node's summary all in STOP_COPY (stats.DeviceStats._observe_node)
_STOP_COPY_ONLY = ("STOP_COPY",)


class RunSteps:
    """The engine's handlers of runs (a mixin of ``Engine``: its methods read and change the
    engine's state and call its lanes through ``self``)."""

    # --- runs of lines read as one (traces/events.py Run; only check_trace asks for them) ----
    def on_data_run(self, run: DataRun) -> None:
        """A run of data calls on one file, in stretches: a stretch of calls that would
        each take the fast lane with a self-loop is applied in one step
        (:meth:`_quiet_stretch`), any other call is fed on its own."""
        self.events -= 1                    # feed_one counted the run; each call counts
        if self._run_step(run):
            return
        index, count = 0, len(run)
        while index < count:
            event = run.member(index)
            end = self._quiet_stretch(run, index, event)
            if end > index:
                index = end
            else:
                self.feed_one(event)
                index += 1

    def _run_step(self, run: DataRun) -> bool:
        """A whole data run in one step, remembered per node: what the loop of
        :meth:`on_data_run` does with the run — its first line fed on its own (through the
        fast lane, or binding a file no device owns yet to the one device), a quiet
        stretch, its last line fed on its own — depends on the readings' node, the file's
        slot, the fd, the first shape, the set of middle shapes and the last shape, so it
        is worked out once (:meth:`_run_plan`) and filed in the node's table under an alias
        of those, then replayed: the same readings, held event, statistics and counts,
        with one event made (the one held) rather than a few per run. Returns False,
        having changed nothing, for anything else (the loop then does it line by line)."""
        count = len(run)
        if count < 4 or not self.fast or self._retiring:
            return False
        file = run.file
        if file in self.devices:
            return False
        owner = self.file_device.get(file)
        bind = owner is None
        if bind:
            if len(self.devices) != 1:
                return False
            owner, track = next(iter(self.devices.items()))
        else:
            track = self.devices[owner]
        before = track.readings
        node = before.node
        if node is None:
            return False
        files = before.files
        shapes = run.shapes
        profile = track.profile
        key = (_RUN, bind, files.index(file) if file in files else NEW_FILE, run.fd,
               shapes[0], frozenset(shapes[1:-1]), shapes[-1], track.unsure_start,
               id(profile))
        table = node.trans
        plan = table.get(key)
        if plan is None:
            plan = self._run_plan(run, track, before, bind, run.member(0))
            if plan is None:
                return False
            table[key] = plan
        if plan is False:
            return False
        # the first line's thread (its event is made only when it is needed)
        held = track.held
        if held is not None:
            other = held.event.tid      # (one thread's calls never overlap: _overlap's test)
            if (other is None or other != run.stamp(0)[2]) \
                    and _overlap(held.event, run.member(0)):
                return False
        lone, start, last_step = plan
        fd = run.fd
        stats = track.stats
        if lone is not None:
            # feed_one, then _fast_lane or (binding) _data_event and _replay_silent
            if run.time(0) is not None:
                self._timed = True
            known = self._file_fds.get(file, _UNSEEN)
            if known is not None and known != fd:
                # self._note_file(first, file), for a data call (no FdDup: its fd counts)
                if known is _UNSEEN:
                    self._file_fds[file] = fd
                    self._file_forks[file] = self._forked
                else:
                    self._file_fds[file] = None
            if bind:
                self.file_device[file] = owner
            self._flush(track)
            mid = _successor(before, lone, file, run.origin.line)
            track.readings = mid
            stats.record_line(run, 0, mid)
        else:
            mid = before
        # _quiet_stretch (its held event: only when no line follows it in the run)
        end = count if last_step is None else count - 1
        self._flush(track)
        stats.record_span(run, start, end, mid)
        last = run.member(end - 1 if last_step is None else end)
        if last_step is not None:
            # feed_one, then _fast_lane
            if last.ts is not None:
                self._timed = True
            known = self._file_fds.get(file, _UNSEEN)
            if known is not None and known != fd:
                self._note_file(last, file)
            after = _successor(mid, last_step, file, last.origin.line)
            track.readings = after
            stats.record(last, after, file)
        track.held = Held(last, None, self._data_key(last, profile), mid, [])
        self.automaton.hits += count
        self.fast_hits += count
        self.events += count
        self.last_origin = last.origin
        return True

    def _run_plan(self, run: DataRun, track: DeviceTrack, before: Readings, bind: bool,
                  first: Event) -> tuple[Transition | None, int, Transition | None] | bool | None:
        """What the loop of :meth:`on_data_run` would do with ``run`` from the readings
        ``before``, worked out from the node's cached steps alone (nothing applied): (the
        first line's quiet step when it is fed on its own, else None; where the quiet
        stretch starts, 0 or 1; the last line's quiet step when it is fed on its own after
        the stretch, else None). False when the loop would do anything else whatever
        comes later; None when a step it needs is not cached yet (not remembered then:
        the loop computes it). ``bind``: the file has no owner yet, ``track`` is the one
        device."""
        file, fd = run.file, run.fd
        shapes = run.shapes
        profile = track.profile
        node, files = before.node, before.files
        assert node is not None
        if bind:
            # on_data -> _data_event: the one device is the only candidate -> _replay_quiet
            if not self._may_bind(track, file, fd):
                return False
            lone = self._cached(track, node, files, first, file,
                                *self._data_key(first, profile))[3]
            if lone is None:
                return None
        else:
            loop = self._loop_verdict(track, node, files, run, shapes[0])
            if loop is None:
                return None
            lone = None if loop else self._cached(track, node, files, first, file,
                                                  *self._data_key(first, profile))[3]
        if lone is not None and not lone.result.quiet:
            return False        # (_fast_lane or _replay_quiet: quiet or not taken)
        start = 0 if lone is None else 1
        mid = before if lone is None else _successor(before, lone, file, first.origin.line)
        node, files = mid.node, mid.files
        assert node is not None
        # _quiet_stretch from ``start``: every middle shape (and the first, if it is in the
        # stretch) a quiet self-loop; the last one too, or fed on its own through the fast
        # lane
        for shape in {*shapes[start:-1]}:
            loop = self._loop_verdict(track, node, files, run, shape)
            if not loop:
                return loop
        loop = self._loop_verdict(track, node, files, run, shapes[-1])
        if loop is None:
            return None
        if loop:
            return lone, start, None
        last = run.member(len(shapes) - 1)
        last_step = self._cached(track, node, files, last, file,
                                 *self._data_key(last, profile))[3]
        if last_step is None or not last_step.result.quiet:
            return False
        return lone, start, last_step

    def _loop_verdict(self, track: DeviceTrack, node: Node, files: tuple[str, ...],
                      run: DataRun, shape: str) -> bool | None:
        """Is a line of ``shape`` of ``run`` a quiet self-loop of ``node`` (readings named
        ``files``)? As :meth:`_quiet_stretch` decides it, under the same alias: None while
        its step is not cached."""
        file = run.file
        slot = files.index(file) if file in files else NEW_FILE
        profile = track.profile
        table = node.trans
        alias = (_ALIAS, slot, run.fd, shape, track.unsure_start, id(profile))
        loop = table.get(alias)
        if loop is None:
            samples = self._run_samples
            if len(samples) > MAX_CACHED_SAMPLES:
                samples.clear()
            sample = samples.get((run.fd, shape))
            if sample is None:
                sample = samples[(run.fd, shape)] = run.member(run.samples[shape])
            trans = self._cached(track, node, files, sample, file,
                                 *self._data_key(sample, profile))[3]
            if trans is not None:
                loop = table[alias] = trans.node is node and trans.same_names \
                    and trans.result.quiet
        return loop

    def on_quiet_run(self, run: QuietRun) -> None:
        """A run of QEMU records :meth:`on_qemu` does nothing with once their devices are
        known: only counted. A record it acts on, or a device not known yet (the first
        record naming it finds or makes it), and the records are fed one by one."""
        alias = self.qemu_alias
        if run.names & _QEMU_ACTED_ON or any(
                device and alias.get(device, device) not in self.devices
                for device in run.devices):
            self.events -= 1
            for event in run.expand():
                self.feed_one(event)
            return
        self.events += len(run) - 1
        self.last_origin = origin_at(run.origin.file, run.origin.line + len(run) - 1)

    def on_call_run(self, run: CallRun) -> None:
        """A run of device calls on one device, in stretches: a stretch of calls that
        would each take :meth:`_feature_lane` is applied by :meth:`_call_stretch`, any
        other call is fed on its own."""
        self.events -= 1                    # feed_one counted the run; each call counts
        if self._calls_step(run):
            return
        calls = run.calls
        index, count = 0, len(calls)
        while index < count:
            end = self._call_stretch(calls, run.keys, index)
            if end > index:
                index = end
            else:
                self.feed_one(calls[index])
                index += 1

    def _calls_step(self, run: CallRun) -> bool:
        """A whole run of device calls in one step, remembered per node: when
        :meth:`_call_stretch` would take every call of the run (each a cached silent step,
        none overlapping the one before it), what it does depends on the node, the run's
        keys, the unsure start and the profile, beyond the calls' provenance; that part is
        worked out once (:meth:`_calls_plan`) and filed in the node's table under an alias
        of those, then replayed: the renamed readings, the undecided rules, the statistics
        a node's summary says may change, the held call. Returns False, having changed
        nothing, for anything else (on_call_run then takes its calls as before)."""
        if not self.fast or self._retiring or len(self.devices) != 1:
            return False
        calls = run.calls
        first = calls[0]
        track = self.devices.get(first.device)  # type: ignore[attr-defined]
        if track is None or track.pin is not None or track.stats.recording:
            return False
        before = track.readings
        node = before.node
        if node is None:
            return False
        key = (_CALLS, run.keys, track.unsure_start, id(track.profile))
        table = node.trans
        plan = table.get(key)
        if plan is None:
            plan = self._calls_plan(track, run)
            if plan is None:
                return False
            table[key] = plan
        if plan is False:
            return False
        steps, observed, last_key, unsure, hides, shows = plan
        # the overlaps _call_stretch tests (each call against the one before it), and the
        # times and process feed_one and the lane take from the calls
        held = track.held
        last = held.event if held is not None else None
        timed = False
        stats = track.stats
        for event in calls:
            if last is not None and (last.tid is None or last.tid != event.tid) \
                    and _overlap(last, event):
                return False
            last = event
        if held is not None and held.findings:   # (as _replay_silent)
            self._emit_all(held.findings)
        undecided = track.undecided
        readings = before
        prev_before = before
        spec = self.spec
        for index, trans in enumerate(steps):
            event = calls[index]
            ts = event.ts
            if ts is not None:
                timed = True
                if stats.first_ts is None:
                    stats.first_ts = ts
                stats.last_ts = ts
            if track.pid is None:
                track.pid = event.pid
            prev_before = readings
            if not (trans.same_names and trans.node is readings.node):
                readings = _successor(readings, trans, None, event.origin.line)
            replay: Replay = trans.result
            if replay.undecided and len(undecided) < 1000:
                line = event.origin.line
                for rule in replay.undecided:
                    if len(undecided) < 1000 and self.enabled(rule.id):
                        undecided.append((line, rule))
            if observed[index]:       # (stats.observe_states, as _call_stretch calls it)
                node = readings.node
                if node.size:  # type: ignore[union-attr]
                    stats._observe_node(event, readings, node)  # type: ignore[arg-type]
                else:
                    stats.observe_states(event, readings, spec)
        track.readings = readings
        if hides:
            track.payload_hidden = True
        if not unsure:
            track.unsure_start = False
        if shows:
            track.migration_seen = True
        count = len(calls)
        self.events += count
        self.automaton.hits += count
        self.feature_hits += count
        self.last_origin = last.origin  # type: ignore[union-attr]
        if timed:
            self._timed = True
        step = self._shown_step(track, last)[0]  # type: ignore[arg-type,index]
        track.held = Held(last, step, last_key, prev_before, ())  # type: ignore[arg-type]
        return True

    def _calls_plan(self, track: DeviceTrack, run: CallRun) -> tuple | bool | None:
        """What :meth:`_call_stretch` would do with every call of ``run`` from the
        device's readings, worked out from the cached steps alone: (each call's step, for
        each whether the statistics may take anything from its successor's summary, the
        held call's cache key, the unsure start after the run, whether a call hides its
        target, whether one shows a migration state). False when the stretch would stop
        before the run's end whatever comes later; None when a step is not cached yet."""
        calls, keys = run.calls, run.keys
        by_key = self._call_keys
        node = track.readings.node
        unsure = track.unsure_start
        ident = self._ref(track.profile)
        steps = []
        observed = []
        last_key = None
        hides = shows = False
        for index, event in enumerate(calls):
            lane = by_key.get(keys[index], _UNSEEN)
            if lane is _UNSEEN:
                if len(by_key) > MAX_CACHED_SAMPLES:
                    by_key.clear()
                lane = by_key[keys[index]] = self._call_lane(event)  # type: ignore[arg-type]
            if lane is None:
                return False
            key, fine, _is_set, shown, hidden = lane  # type: ignore[misc]
            table = node.trans  # type: ignore[union-attr]
            alias = (_ALIAS, keys[index], unsure, ident)
            trans = table.get(alias)
            if trans is None:
                trans = table.get(((key[0], FeatureCall, NEW_FILE, unsure, ident), fine))
                if trans is None:
                    return None
                if not trans.result.silent:
                    return False
                table[alias] = trans
            steps.append(trans)
            node = trans.node
            summary = node._summary or node.summary
            observed.append(not node.size or bool(summary.first_dead) or (
                summary.sorted_states == _STOP_COPY_ONLY and bool(summary.stop_copy_files)))
            last_key = key
            hides = hides or hidden
            shows = shows or shown
            if unsure and _establishes_state(event):
                unsure = False
        return tuple(steps), tuple(observed), last_key, unsure, hides, shows

    def _call_lane(self, event: FeatureCall) -> tuple | None:
        """What :meth:`_feature_lane` decides of a device call from its payload alone (its
        fields but provenance, :func:`_payload`), remembered per payload: None when the
        lane would refuse it whatever the readings, else (the step's cache key and whether
        it reads the payload, the payload's cache key, whether it is a SET of the state,
        whether it shows a migration state, whether it hides its target)."""
        fine = _payload(event, True)[0]
        found = self._call_lanes.get(fine, _UNSEEN)
        if found is not _UNSEEN:
            return found  # type: ignore[return-value]
        if len(self._call_lanes) > MAX_CACHED_SAMPLES:
            self._call_lanes.clear()
        found = None
        op, feature = event.op, event.feature
        if not (isinstance(event.raw_flags, int) or op is UNKNOWN or feature is UNKNOWN
                or (feature == "MIG_DEVICE_STATE" and op == "SET"
                    and (event.target is UNKNOWN or event.target is None))
                or U010.decode_raw(event)[0] is not None):
            track = self.devices[event.device]
            shown = self._shown_step(track, event)   # (its key: the payload's alone)
            if shown is not None:
                _step, key, payload = shown
                found = ((key, payload), fine if payload else (),
                         feature == "MIG_DEVICE_STATE" and op == "SET",
                         _shows_migration(event),
                         feature == "MIG_DEVICE_STATE" and event.target is UNKNOWN)
        self._call_lanes[fine] = found
        return found

    def _call_stretch(self, calls: Sequence[FeatureCall], keys: Sequence[object],
                      start: int) -> int:
        """Apply the calls from ``start`` on as :meth:`feed_one` would, each taking
        :meth:`_feature_lane` (a cached silent step, no overlap with the held event), as
        long as each would: the same effects in the same order, without a held event per
        call (only the last is held; each call's overlap is tested against the one before
        it, as it would be against the held event). Returns where the stretch ends
        (``start``: nothing applied, nothing changed). Refuses what the lane's tail would
        do more with: a file being retired, a state QEMU pinned, another device (the P2P
        order check), observations recorded. ``keys``: the run's (CallRun.keys), under
        which each call's :meth:`_call_lane` is remembered too."""
        if not self.fast or self._retiring or len(self.devices) != 1:
            return start
        first = calls[start]
        track = self.devices.get(first.device)
        if track is None or track.pin is not None or track.stats.recording:
            return start
        held = track.held
        before = track.readings
        prev: FeatureCall | None = None
        prev_before = before
        prev_key: tuple | None = None
        profile = track.profile
        ident = self._ref(profile)
        stats = track.stats
        spec = self.spec
        undecided = track.undecided
        by_key = self._call_keys
        timed = False
        index, count = start, len(calls)
        while index < count:
            event = calls[index]
            lane = by_key.get(keys[index], _UNSEEN)
            if lane is _UNSEEN:
                if len(by_key) > MAX_CACHED_SAMPLES:
                    by_key.clear()
                lane = by_key[keys[index]] = self._call_lane(event)
            if lane is None:
                break
            last = prev if prev is not None else (held.event if held is not None else None)
            if last is not None and (last.tid is None or last.tid != event.tid) \
                    and _overlap(last, event):      # (one thread's calls never overlap)
                break
            node = before.node
            if node is None:
                break
            key, fine, is_set, shows, hides = lane
            # the cache entry _cached would find (the head of a call's step: no file), by
            # its alias (the call's key in the run) once it was found so
            table = node.trans
            alias = (_ALIAS, keys[index], track.unsure_start, ident)
            trans = table.get(alias)
            if trans is None:
                trans = table.get(((key[0], FeatureCall, NEW_FILE, track.unsure_start,
                                    ident), fine))
                if trans is None or not trans.result.silent:
                    break
                table[alias] = trans
            # feed_one (its counts, the last origin and the timed flag: after the loop)
            ts = event.ts
            if ts is not None:
                timed = True
            # _replay_silent (the held event's findings: only the first call can have any)
            if prev is None and held is not None and held.findings:
                self._emit_all(held.findings)
            line = event.origin.line
            after = before if trans.same_names and trans.node is node else \
                _successor(before, trans, None, line)
            track.readings = after
            replay: Replay = trans.result
            if replay.undecided and len(undecided) < 1000:
                for rule in replay.undecided:
                    if len(undecided) < 1000 and self.enabled(rule.id):
                        undecided.append((line, rule))
            prev, prev_before, prev_key = event, before, key
            # the rest of _feature_lane
            if track.pid is None:
                track.pid = event.pid
            if hides:
                track.payload_hidden = True
            if track.unsure_start and _establishes_state(event):
                track.unsure_start = False
            # (_after_set: no pin, no other device; _observe_state: readings with a node,
            # stats.observe_states of them inlined)
            if ts is not None:
                if stats.first_ts is None:
                    stats.first_ts = ts
                stats.last_ts = ts
            if after.node.size:     # type: ignore[union-attr]
                stats._observe_node(event, after, after.node)  # type: ignore[arg-type]
            else:
                stats.observe_states(event, after, spec)
            if not track.migration_seen:
                track.migration_seen = shows
            before = after
            index += 1
        if prev is None:
            return start
        applied = index - start
        self.events += applied
        self.automaton.hits += applied
        self.feature_hits += applied
        self.last_origin = prev.origin
        if timed:
            self._timed = True
        step = self._shown_step(track, prev)[0]  # type: ignore[index]
        track.held = Held(prev, step, prev_key, prev_before, ())
        return index

    def _quiet_stretch(self, run: DataRun, start: int, first: Event) -> int:
        """Apply the calls of ``run`` from ``start`` on as :meth:`_fast_lane` would apply
        each, as long as each would take it with a cached quiet step that leaves the
        readings as they are (a self-loop of the automaton's node): the readings stay, the
        last call of the stretch is held, the statistics count every line
        (``DeviceStats.record_run``). The stretch's first call must not overlap the held
        event; later ones never do (consecutive lines of one file, no durations). Returns
        where the stretch ends (``start``: nothing applied, nothing changed). One cache
        lookup per shape of line, not per line. ``first``: the event of line ``start``."""
        file = run.file
        if not self.fast or file in self.devices:
            return start
        owner = self.file_device.get(file)
        if owner is None:
            return start
        track = self.devices[owner]
        before = track.readings
        node = before.node
        if node is None:
            return start
        if track.held is not None and _overlap(track.held.event, first):
            return start
        profile = track.profile             # (_data_profile: the owner's)
        files = before.files
        shapes = run.shapes
        end = len(shapes)
        samples = self._run_samples
        if len(samples) > MAX_CACHED_SAMPLES:
            samples.clear()
        table = node.trans
        # a shape's verdict is also filed in the node's table under a cheap alias (this
        # file's slot, the fd, the shape), which the automaton forgets with the entry itself
        slot = files.index(file) if file in files else NEW_FILE
        unsure, ident = track.unsure_start, id(profile)
        # the first line's shape first: when it is no self-loop, nothing more to look up
        head = shapes[start]
        for shape in run.samples if head == next(iter(run.samples)) else \
                (head, *(shape for shape in run.samples if shape != head)):
            alias = (_ALIAS, slot, run.fd, shape, unsure, ident)
            loop = table.get(alias)
            if loop is None:
                # a line of this shape on this fd: the cache key reads nothing else of it
                sample = samples.get((run.fd, shape))
                if sample is None:
                    sample = samples[(run.fd, shape)] = run.member(run.samples[shape])
                trans = self._cached(track, node, files, sample, file,
                                     *self._data_key(sample, profile))[3]
                if trans is not None:   # (a step not computed yet may be a self-loop later)
                    loop = table[alias] = trans.node is node and trans.same_names \
                        and trans.result.quiet
            if loop:
                continue
            if shape == head:
                return start
            try:                            # the stretch ends before this shape's next line
                end = min(end, shapes.index(shape, start, end))
            except ValueError:
                pass
        if end - start < 2:
            return start
        count = end - start
        self._flush(track)
        self.automaton.hits += count
        self.fast_hits += count
        last = run.member(end - 1)
        track.held = Held(last, None, self._data_key(last, profile), before, [])
        track.stats.record_run(run, start, end, first, last, before)
        self.events += count
        self.last_origin = last.origin
        return end
