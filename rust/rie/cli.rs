//! Command line and environment of `fastric-rie`, shaped like aws-lambda-rie's
//! (`cmd/aws-lambda-rie`, `internal/lambda/rie/run.go` and `handlers.go` at v1.30).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Usage text printed by `--help` and after a usage error.
pub(crate) const USAGE: &str = "\
usage: fastric-rie [options] [--] [COMMAND [ARGS...]]

Runs COMMAND as a Lambda runtime behind a local Runtime API and serves the Lambda Invoke API:
  POST http://<runtime-interface-emulator-address>/2015-03-31/functions/function/invocations
The options below are read anywhere (also after COMMAND); everything after `--` is COMMAND's.
With several arguments the last one is the handler (passed as _HANDLER). Without COMMAND:
/var/task/bootstrap, /opt/bootstrap, /var/runtime/bootstrap, else `<python> -m fastric HANDLER`.

options:
  --runtime-interface-emulator-address ADDR  invoke endpoint (default 127.0.0.1:8080; port 0 = any)
  --runtime-api-address ADDR                 Runtime API (default 127.0.0.1:9001; port 0 = any)
  --log-level LEVEL                          error, warn, info (default) or debug; also LOG_LEVEL
  --handler HANDLER                          handler name (else AWS_LAMBDA_FUNCTION_HANDLER, _HANDLER)
  --eager-init                               start the runtime at once instead of on the first invoke
  --keep-runtime-on-timeout                  keep the runtime running when an invoke times out
  --max-environments N                       up to N execution environments, started on demand (default 1)
  --function-url-address ADDR                also serve a local Function URL (any path and method) on ADDR
  --invoke-mode MODE                         the Function URL's BUFFERED (default) or RESPONSE_STREAM
  -h, --help                                 show this text
  --version                                  show the version

environment: AWS_LAMBDA_FUNCTION_TIMEOUT (s, default 300), AWS_LAMBDA_FUNCTION_NAME (test_function),
AWS_LAMBDA_FUNCTION_VERSION ($LATEST), AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB, 3008), AWS_REGION.
";

/// Where bootstrap executables are looked for when no COMMAND is given (aws-lambda-rie's order).
pub(crate) const BOOTSTRAP_PATHS: [&str; 3] = ["/var/task/bootstrap", "/opt/bootstrap", "/var/runtime/bootstrap"];

/// Verbosity of the emulator's own `[fastric-rie]` diagnostics on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "error" | "fatal" | "panic" => Some(Self::Error),
            "warn" | "warning" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" | "trace" => Some(Self::Debug),
            _ => None,
        }
    }
}

/// Everything the emulator needs, resolved from the arguments and the environment.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `host:port` of the invoke endpoint.
    pub(crate) invoke_address: String,
    /// `host:port` of the Runtime API.
    pub(crate) runtime_api_address: String,
    pub(crate) log_level: LogLevel,
    pub(crate) eager_init: bool,
    pub(crate) keep_runtime_on_timeout: bool,
    /// `--max-environments`: how many execution environments may run invocations at once (≥ 1).
    pub(crate) max_environments: usize,
    /// The runtime's program and arguments (never empty).
    pub(crate) command: Vec<String>,
    /// Passed to the runtime as `_HANDLER` when known.
    pub(crate) handler: Option<String>,
    pub(crate) function_name: String,
    pub(crate) function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, MB.
    pub(crate) memory_mb: u64,
    /// `AWS_LAMBDA_FUNCTION_TIMEOUT`.
    pub(crate) timeout: Duration,
    /// The region used in the function ARN (`AWS_REGION`, else `us-east-1`).
    pub(crate) region: String,
    pub(crate) log_group: String,
    pub(crate) log_stream: String,
    /// `--function-url-address`: where the local Function URL listens (`function_url.rs`).
    pub(crate) function_url_address: Option<String>,
    /// `--invoke-mode RESPONSE_STREAM`: the Function URL streams.
    pub(crate) function_url_streaming: bool,
}

impl Config {
    /// `arn:aws:lambda:<region>:012345678912:function:<name>`, aws-lambda-rie's fake ARN.
    pub(crate) fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:012345678912:function:{}",
            self.region, self.function_name
        )
    }

    /// The timeout as aws-lambda-rie and Lambda print it: seconds with two decimals (`3.00`).
    pub(crate) fn timeout_text(&self) -> String {
        format!("{:.2}", self.timeout.as_secs_f64())
    }
}

/// Why parsing stopped without a configuration: print `message` and exit with `code`.
#[derive(Debug)]
pub(crate) struct CliExit {
    pub(crate) code: i32,
    pub(crate) message: String,
}

fn usage_error(message: &str) -> CliExit {
    CliExit {
        code: 2,
        message: format!("fastric-rie: {message}\n{USAGE}"),
    }
}

/// Parses `argv` (with `argv[0]` the program name) and `env`.
///
/// `python` is the interpreter for the `-m fastric` fallback; `exists` tells whether a bootstrap
/// path is an executable file (injected for tests). Known options are read anywhere before `--`,
/// also after COMMAND has started (as aws-lambda-rie reads them); other arguments from the first
/// non-option one on form COMMAND, so `fastric-rie python -m awslambdaric app.handler` needs no `--`.
#[allow(clippy::too_many_lines)] // one flat option loop reads best
pub(crate) fn parse(
    argv: &[String],
    env: &HashMap<String, String>,
    python: &str,
    exists: &dyn Fn(&str) -> bool,
) -> Result<Config, CliExit> {
    let mut invoke_address = "127.0.0.1:8080".to_owned();
    let mut runtime_api_address = "127.0.0.1:9001".to_owned();
    let mut log_level = env
        .get("LOG_LEVEL")
        .and_then(|l| LogLevel::parse(l))
        .unwrap_or(LogLevel::Info);
    let mut eager_init = false;
    let mut keep_runtime_on_timeout = false;
    let mut max_environments = 1usize;
    let mut handler_option: Option<String> = None;
    let mut function_url_address: Option<String> = None;
    let mut function_url_streaming = false;

    // Known options are read wherever they stand, as aws-lambda-rie (go-flags) reads them; the first
    // other argument starts COMMAND, whose own options (`-m`, `-c`, ...) pass through; everything after
    // `--` is COMMAND's, untouched. `-h`/`--help`/`--version` count only before COMMAND.
    let mut command_args: Vec<String> = Vec::new();
    let mut index = 1;
    while index < argv.len() {
        let arg = argv[index].as_str();
        if arg == "--" {
            command_args.extend_from_slice(&argv[index + 1..]);
            break;
        }
        let in_command = !command_args.is_empty();
        if !arg.starts_with('-') || arg == "-" {
            command_args.push(arg.to_owned());
            index += 1;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg, None),
        };
        let mut value = |what: &str| -> Result<String, CliExit> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            index += 1;
            argv.get(index)
                .cloned()
                .ok_or_else(|| usage_error(&format!("option {what} needs a value")))
        };
        match name {
            "-h" | "--help" if !in_command => {
                return Err(CliExit {
                    code: 0,
                    message: USAGE.to_owned(),
                })
            }
            "--version" if !in_command => {
                return Err(CliExit {
                    code: 0,
                    message: format!("fastric-rie {}\n", env!("CARGO_PKG_VERSION")),
                })
            }
            "--runtime-interface-emulator-address" => invoke_address = value(name)?,
            "--runtime-api-address" => runtime_api_address = value(name)?,
            "--log-level" => {
                let text = value(name)?;
                log_level =
                    LogLevel::parse(&text).ok_or_else(|| usage_error(&format!("unknown log level {text:?}")))?;
            }
            "--handler" => handler_option = Some(value(name)?),
            "--eager-init" => eager_init = true,
            "--keep-runtime-on-timeout" => keep_runtime_on_timeout = true,
            "--max-environments" => {
                let text = value(name)?;
                max_environments = text.parse().ok().filter(|n| (1..=256).contains(n)).ok_or_else(|| {
                    usage_error(&format!("--max-environments {text:?} is not a number from 1 to 256"))
                })?;
            }
            "--function-url-address" => function_url_address = Some(value(name)?),
            "--invoke-mode" => {
                function_url_streaming = match value(name)?.as_str() {
                    "BUFFERED" => false,
                    "RESPONSE_STREAM" => true,
                    other => {
                        return Err(usage_error(&format!(
                            "--invoke-mode must be BUFFERED or RESPONSE_STREAM, not {other:?}"
                        )))
                    }
                }
            }
            "--enable-init-caching" => {
                return Err(CliExit {
                    code: 2,
                    message: "fastric-rie: --enable-init-caching (SnapStart emulation) is not supported yet\n"
                        .to_owned(),
                })
            }
            _ if in_command => command_args.push(arg.to_owned()),
            _ => return Err(usage_error(&format!("unknown option {name}"))),
        }
        index += 1;
    }
    if env.contains_key("AWS_LAMBDA_MAX_CONCURRENCY") {
        return Err(CliExit {
            code: 2,
            message: "fastric-rie: AWS_LAMBDA_MAX_CONCURRENCY is set, but Lambda Managed Instances (concurrent \
                      invocations) are not emulated yet; unset it to run one invocation at a time\n"
                .to_owned(),
        });
    }

    let env_handler = env
        .get("AWS_LAMBDA_FUNCTION_HANDLER")
        .or_else(|| env.get("_HANDLER"))
        .filter(|h| !h.is_empty())
        .cloned();
    let (command, handler) = if command_args.is_empty() {
        let handler = handler_option.or(env_handler);
        if let Some(path) = BOOTSTRAP_PATHS.iter().find(|p| exists(p)) {
            (vec![(*path).to_owned()], handler)
        } else {
            let Some(handler) = handler else {
                return Err(usage_error(
                    "no COMMAND, no bootstrap in /var/task, /opt or /var/runtime, and no handler \
                     (--handler, AWS_LAMBDA_FUNCTION_HANDLER or _HANDLER) for `python -m fastric HANDLER`",
                ));
            };
            (
                vec![
                    python.to_owned(),
                    "-m".to_owned(),
                    "fastric".to_owned(),
                    handler.clone(),
                ],
                Some(handler),
            )
        }
    } else {
        let last = if command_args.len() > 1 {
            command_args.last().cloned()
        } else {
            None
        };
        (command_args, handler_option.or(env_handler).or(last))
    };

    let get = |name: &str, default: &str| {
        env.get(name)
            .filter(|v| !v.is_empty())
            .map_or(default.to_owned(), Clone::clone)
    };
    let timeout_text = get("AWS_LAMBDA_FUNCTION_TIMEOUT", "300");
    let timeout = timeout_text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t > 0.0 && *t <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            usage_error(&format!(
                "AWS_LAMBDA_FUNCTION_TIMEOUT={timeout_text:?} is not a number of seconds"
            ))
        })?;
    let memory_text = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008");
    let memory_mb = memory_text.trim().parse::<u64>().map_err(|_| {
        usage_error(&format!(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE={memory_text:?} is not a number of MB"
        ))
    })?;
    let function_version = get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    let log_stream = env
        .get("AWS_LAMBDA_LOG_STREAM_NAME")
        .filter(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| {
            let mut stream = format!("{}/[{function_version}]", crate::rie::report::utc_date_slashes());
            for byte in crate::rie::report::random_bytes::<16>() {
                let _ = write!(stream, "{byte:02x}");
            }
            stream
        });
    Ok(Config {
        invoke_address,
        runtime_api_address,
        log_level,
        eager_init,
        keep_runtime_on_timeout,
        max_environments,
        command,
        handler,
        function_name: get("AWS_LAMBDA_FUNCTION_NAME", "test_function"),
        function_version,
        memory_mb,
        timeout,
        region: get("AWS_REGION", "us-east-1"),
        log_group: get("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/Functions"),
        log_stream,
        function_url_address,
        function_url_streaming,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)], bootstrap: Option<&str>) -> Result<Config, CliExit> {
        let full: Vec<String> = std::iter::once("fastric-rie")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        parse(&full, &env, "/usr/bin/python3", &|p| Some(p) == bootstrap)
    }

    #[test]
    fn last_argument_is_the_handler() {
        let cfg = run(&["python", "-m", "awslambdaric", "app.handler"], &[], None).unwrap();
        assert_eq!(cfg.command, ["python", "-m", "awslambdaric", "app.handler"]);
        assert_eq!(cfg.handler.as_deref(), Some("app.handler"));
        assert_eq!(cfg.invoke_address, "127.0.0.1:8080");
        assert_eq!(cfg.runtime_api_address, "127.0.0.1:9001");
        assert_eq!(cfg.timeout, Duration::from_secs(300));
        assert_eq!(
            cfg.function_arn(),
            "arn:aws:lambda:us-east-1:012345678912:function:test_function"
        );
    }

    #[test]
    fn single_command_has_no_handler() {
        let cfg = run(&["--eager-init", "--", "/bin/sleep"], &[], None).unwrap();
        assert!(cfg.eager_init);
        assert_eq!(cfg.command, ["/bin/sleep"]);
        assert_eq!(cfg.handler, None);
    }

    #[test]
    fn options_and_environment() {
        let cfg = run(
            &[
                "--runtime-api-address=127.0.0.1:0",
                "--runtime-interface-emulator-address",
                "127.0.0.1:0",
                "x",
                "h",
            ],
            &[
                ("AWS_LAMBDA_FUNCTION_TIMEOUT", "2.5"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(cfg.runtime_api_address, "127.0.0.1:0");
        assert_eq!(cfg.invoke_address, "127.0.0.1:0");
        assert_eq!(cfg.timeout_text(), "2.50");
        assert_eq!(cfg.function_arn(), "arn:aws:lambda:eu-west-1:012345678912:function:f");
    }

    #[test]
    fn bootstrap_search_and_python_fallback() {
        let cfg = run(&[], &[("_HANDLER", "app.handler")], Some("/opt/bootstrap")).unwrap();
        assert_eq!(cfg.command, ["/opt/bootstrap"]);
        let cfg = run(&["--handler", "m.f"], &[], None).unwrap();
        assert_eq!(cfg.command, ["/usr/bin/python3", "-m", "fastric", "m.f"]);
        let cfg = run(&[], &[("AWS_LAMBDA_FUNCTION_HANDLER", "a.b")], None).unwrap();
        assert_eq!(cfg.command, ["/usr/bin/python3", "-m", "fastric", "a.b"]);
        assert_eq!(run(&[], &[], None).unwrap_err().code, 2);
    }

    #[test]
    fn known_options_anywhere_rest_after_double_dash() {
        let cfg = run(
            &[
                "python",
                "-m",
                "awslambdaric",
                "app.handler",
                "--runtime-interface-emulator-address",
                "0.0.0.0:8081",
                "--log-level=debug",
                "-X",
                "--help",
            ],
            &[],
            None,
        )
        .unwrap();
        assert_eq!(cfg.invoke_address, "0.0.0.0:8081");
        assert_eq!(cfg.log_level, LogLevel::Debug);
        assert_eq!(
            cfg.command,
            ["python", "-m", "awslambdaric", "app.handler", "-X", "--help"]
        );
        assert_eq!(cfg.handler.as_deref(), Some("--help"));
        let cfg = run(
            &["--eager-init", "--", "python", "app.py", "--runtime-api-address", "x:1"],
            &[],
            None,
        )
        .unwrap();
        assert_eq!(cfg.runtime_api_address, "127.0.0.1:9001");
        assert_eq!(cfg.command, ["python", "app.py", "--runtime-api-address", "x:1"]);
        let cfg = run(&["x", "--", "--eager-init"], &[], None).unwrap();
        assert!(!cfg.eager_init);
        assert_eq!(cfg.command, ["x", "--eager-init"]);
        assert_eq!(run(&["x", "--handler"], &[], None).unwrap_err().code, 2);
    }

    #[test]
    fn refusals() {
        assert_eq!(run(&["--enable-init-caching", "x"], &[], None).unwrap_err().code, 2);
        let err = run(&["x"], &[("AWS_LAMBDA_MAX_CONCURRENCY", "4")], None).unwrap_err();
        assert!(err.message.contains("AWS_LAMBDA_MAX_CONCURRENCY"));
        assert_eq!(run(&["--bogus", "x"], &[], None).unwrap_err().code, 2);
        assert_eq!(run(&["--max-environments", "0", "x"], &[], None).unwrap_err().code, 2);
        assert_eq!(
            run(&["--max-environments=4", "x"], &[], None).unwrap().max_environments,
            4
        );
        assert_eq!(run(&["--help"], &[], None).unwrap_err().code, 0);
    }
}
