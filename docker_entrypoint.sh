#!/usr/bin/env bash
# Container entrypoint: resolve the W&B API key, refuse what cannot work, then `exec` the command.
#
#   (no arguments) | agent [OPTIONS] [SWEEP_ID]   wandb agent for SWEEP_ID, or for $WANDB_SWEEP_ID
#   SWEEP_ID [OPTIONS] | --OPTION ...             the same (a bare sweep id or an agent option comes first)
#   any other command                             run as given, e.g. python -m localsweep run sweeps/grid.yaml
#
# The key comes from WANDB_API_KEY or from the file named by WANDB_API_KEY_FILE (Docker/Kubernetes secrets).
# It is exported for the W&B SDK to read: never printed, never passed as an argument, never written to disk
# (no `wandb login`, so no ~/.netrc).
#
# Without a key, the W&B programs — the wandb CLI and this project's python -m trainer|localsweep|analysis —
# are refused unless WANDB_MODE is explicitly offline or disabled, and `wandb agent|sweep|sync|login`, which
# need the server, always; asking any of them for --help/-h/--version is not. Every other command (id, bash,
# python -V, ls ...) runs as given: it is how you look inside the image.
#
# `exec` makes the command this process: signals sent to it reach the command itself. In the image, PID 1
# is dumb-init, which turns SIGTERM (docker stop, Kubernetes) into SIGINT for the whole process group, so
# `wandb agent` (which handles SIGINT only) and the run it started both stop cleanly.
set -Eeuo pipefail

die() {
	printf 'docker_entrypoint.sh: %s\n' "$*" >&2
	exit 64 # EX_USAGE: the container was started wrongly; nothing ran
}

# A key file this user cannot read (a secret mounted 0400 for another uid): say whose it is and what to change.
unreadable_key_file() {
	local file="$1" me owner mode
	me="$(id -u)"
	owner="$(stat -c %u -- "$file")"
	mode="$(stat -c %a -- "$file")"
	die "WANDB_API_KEY_FILE=$file (owner uid $owner, mode $mode) is not readable by this container's user" \
		"(uid $me, gid $(id -g)). Make it readable to uid $me: on the host, chown $me the file (mode 0400 is" \
		"fine then) or chmod 0444 it; with Docker Compose secrets, uid: \"$me\"; in Kubernetes, the pod's" \
		"securityContext.fsGroup and defaultMode: 0440; or run the container as the file's owner (--user $owner)"
}

# docker-library's file_env: the variable itself, or a file named by VAR_FILE, never both.
load_api_key() {
	local file="${WANDB_API_KEY_FILE:-}"
	if [[ -z "$file" ]]; then
		return 0
	fi
	if [[ -n "${WANDB_API_KEY:-}" ]]; then
		die "both WANDB_API_KEY and WANDB_API_KEY_FILE are set; set only one of them"
	fi
	if [[ ! -f "$file" ]]; then
		die "WANDB_API_KEY_FILE=$file is not a file; mount the secret there or unset the variable"
	fi
	if [[ ! -r "$file" ]]; then
		unreadable_key_file "$file"
	fi
	local key
	key="$(<"$file")"
	key="${key%$'\n'}"
	key="${key%$'\r'}"
	if [[ -z "$key" ]]; then
		die "WANDB_API_KEY_FILE=$file is empty; it must hold the key from https://wandb.ai/authorize"
	fi
	if [[ "$key" =~ [[:space:]] ]]; then
		die "WANDB_API_KEY_FILE=$file must hold the key alone on one line (it contains whitespace)"
	fi
	export WANDB_API_KEY="$key"
	unset WANDB_API_KEY_FILE
}

# A W&B sweep id: 8 lowercase letters/digits, optionally prefixed by ENTITY/PROJECT/.
is_sweep_id() {
	[[ "$1" =~ ^([A-Za-z0-9_.-]+/){0,2}[a-z0-9]{8}$ ]]
}

# Set COMMAND to the wandb agent argv for `agent [SWEEP_ID] [OPTIONS]` (the id may also follow the options,
# as `wandb agent` takes it, or come from WANDB_SWEEP_ID).
agent_command() {
	if [[ $# -gt 0 && "$1" != -* ]]; then
		COMMAND=(wandb agent "$@")
	elif [[ -n "${WANDB_SWEEP_ID:-}" ]]; then
		COMMAND=(wandb agent "$@" "$WANDB_SWEEP_ID")
	elif [[ $# -gt 0 ]]; then
		COMMAND=(wandb agent "$@")
	else
		die "no sweep id: pass it as the argument (docker run ... IMAGE <sweep-id>) or set WANDB_SWEEP_ID;" \
			"create one with: wandb sweep sweeps/grid.yaml"
	fi
}

# `wandb agent|sweep|sync|login` talk to the W&B server whatever WANDB_MODE says.
needs_server() {
	[[ "$(basename -- "$1")" == wandb && "${2:-}" =~ ^(agent|sweep|sync|login)$ ]]
}

# The programs that start W&B runs or talk to W&B: the wandb CLI, and python running this project's modules
# (`python -m trainer`, as the sweeps' command does) or files (`python trainer/__main__.py`, the sweeps' program).
is_wandb_program() {
	local name
	name="$(basename -- "$1")"
	if [[ "$name" == wandb ]]; then
		return 0
	fi
	if [[ ! "$name" =~ ^python(3(\.[0-9]+)?)?$ ]]; then
		return 1
	fi
	shift
	while [[ $# -gt 0 ]]; do
		case "$1" in
		-m)
			[[ "${2:-}" =~ ^(trainer|localsweep|analysis)(\.|$) ]]
			return
			;;
		-c) return 1 ;;
		-W | -X) shift 2 || return 1 ;;
		-*) shift ;;
		*)
			[[ "$1" =~ ^(/app/)?(trainer|localsweep|analysis)/ ]]
			return
			;;
		esac
	done
	return 1
}

# --help, -h or --version anywhere: the command only describes itself.
only_describes_itself() {
	local arg
	for arg in "$@"; do
		case "$arg" in
		--help | -h | --version) return 0 ;;
		esac
	done
	return 1
}

main() {
	if [[ $# -eq 0 ]]; then
		set -- agent
	fi
	if [[ "$1" == agent || "$1" == -* ]] || { is_sweep_id "$1" && ! command -v -- "$1" >/dev/null; }; then
		if [[ "$1" == agent ]]; then
			shift
		fi
		agent_command "$@"
		set -- "${COMMAND[@]}"
	fi

	load_api_key
	if ! is_wandb_program "$@" || only_describes_itself "$@"; then
		exec "$@"
	fi
	if [[ -z "${WANDB_API_KEY:-}" ]]; then
		if needs_server "$@"; then
			die "'$*' talks to the W&B server and needs an API key: set WANDB_API_KEY (e.g. in .env," \
				"docker run --env-file .env) or WANDB_API_KEY_FILE (a mounted secret). Without an account," \
				"sweep offline: python -m localsweep run sweeps/grid.yaml with WANDB_MODE=offline"
		fi
		case "${WANDB_MODE:-}" in
		offline | disabled) ;;
		*)
			die "no W&B API key: set WANDB_API_KEY (e.g. in .env, docker run --env-file .env) or" \
				"WANDB_API_KEY_FILE (a mounted secret), or run offline with WANDB_MODE=offline"
			;;
		esac
	fi
	# wandb, TensorFlow and matplotlib keep their caches in /tmp (the image's WANDB_CACHE_DIR, KERAS_HOME, ...).
	local tmp="${TMPDIR:-/tmp}"
	if [[ ! -w "$tmp" ]]; then
		die "$tmp is not writable (a --read-only container?); wandb, TensorFlow and matplotlib write their" \
			"caches there: add --tmpfs /tmp (docker run) or tmpfs: [/tmp] (Docker Compose)"
	fi
	exec "$@"
}

main "$@"
