//! The reverse-proxy example of docs/operations.md, run for real: nginx in front of scimd, with `--base-url`
//! giving the public URL. Needs nginx (CI installs it); elsewhere the test says it was skipped, unless
//! `CI` is set, when a missing nginx fails it.
mod common;

use common::*;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn nginx() -> Option<String> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

/// The first ```nginx block of docs/operations.md.
fn documented_server_block() -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md")).unwrap();
    let start = doc.find("```nginx\n").expect("an nginx block in docs/operations.md") + "```nginx\n".len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_string()
}

#[test]
fn the_documented_nginx_proxy_serves_scim_with_the_public_urls() {
    let Some(nginx) = nginx() else {
        assert!(std::env::var_os("CI").is_none(), "CI must install nginx (.ci/run does)");
        eprintln!("skipped: nginx is not installed");
        return;
    };
    let srv = TestServer::start_with(&["--base-url", "https://scim.example.com/scim/v2"]);
    let scimd_port = srv.origin.rsplit(':').next().unwrap().to_string();
    let proxy_port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let block = documented_server_block();
    assert!(block.contains("PROXY_PORT") && block.contains("SCIMD_PORT"), "{block}");
    let block = block.replace("PROXY_PORT", &proxy_port).replace("SCIMD_PORT", &scimd_port);
    let dir = TempDir::new("nginx");
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {p}/body;\nproxy_temp_path {p}/proxy;\nfastcgi_temp_path {p}/fastcgi;\n\
         uwsgi_temp_path {p}/uwsgi;\nscgi_temp_path {p}/scgi;\n{block}\n}}\n",
        p = dir.path.display()
    );
    std::fs::write(dir.path.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new(&nginx)
        .args(["-p", dir.path.to_str().unwrap(), "-c", dir.path.join("nginx.conf").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let via = format!("http://127.0.0.1:{proxy_port}");
    let agent = agent();
    let auth = srv.auth();
    let headers = [("Authorization", auth.as_str()), ("Content-Type", SCIM_JSON)];
    // Wait for nginx to listen.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", proxy_port.parse::<u16>().unwrap())).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nginx did not start: {}", std::fs::read_to_string(dir.path.join("error.log")).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let listed = raw(&agent, "GET", &format!("{via}/scim/v2/Users"), &headers, None);
    assert_eq!(listed.status, 200, "{listed:#?}");
    assert_eq!(listed.json["totalResults"], 0);
    // A create through the proxy: Location and meta.location are the public URL, whatever Host nginx sends.
    let body = user_body("proxied@example.com").to_string();
    let created = raw(&agent, "POST", &format!("{via}/scim/v2/Users"), &headers, Some(body.as_bytes()));
    assert_eq!(created.status, 201, "{created:#?}");
    let id = id_of(&created.json);
    let public = format!("https://scim.example.com/scim/v2/Users/{id}");
    assert_eq!(created.header("location"), Some(public.as_str()));
    assert_eq!(created.json["meta"]["location"], public.as_str());
    let got = raw(&agent, "GET", &format!("{via}/scim/v2/Users/{id}"), &headers, None);
    assert_eq!(got.status, 200);
    assert_eq!(got.header("etag"), Some("W/\"1\""));
    // Health checks through the proxy too.
    assert_eq!(raw(&agent, "GET", &format!("{via}/healthz"), &[], None).status, 200);
    let _ = child.kill();
    let _ = child.wait();
}
