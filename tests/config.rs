//! `tars_rpc::config` on real config files (`tests/data/config/`): three of TarsFramework's
//! `deploy/` templates, and a file in the shape tarsnode's `CommandLoad.cpp` writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tars_rpc::config::{Config, ConfigError, ServerConfig};
use tars_rpc::endpoint::Endpoint;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

#[test]
fn reads_the_file_tarsnode_writes() {
    let path = data("TestApp.HelloServer.config.conf");
    let args = [
        "HelloServer".to_string(),
        format!("--config={}", path.display()),
    ];
    let config = ServerConfig::from_args(args)
        .unwrap()
        .expect("--config is given");
    assert_eq!(config.path(), Some(path.as_path()));
    assert_eq!((config.app(), config.server()), ("TestApp", "HelloServer"));
    assert_eq!(config.local_ip(), Some("10.0.0.7"));
    assert_eq!(
        config.local(),
        Some(&Endpoint::new("127.0.0.1", 38512).with_timeout(Duration::from_secs(10)))
    );
    assert_eq!(
        config.node(),
        Some("tars.tarsnode.ServerObj@tcp -h 10.0.0.7 -p 19386 -t 60000")
    );
    let node = config.node_address().unwrap();
    assert_eq!(node.servant(), "tars.tarsnode.ServerObj");
    assert_eq!(node.endpoints()[0].port(), 19386);
    assert_eq!(
        config.base_path(),
        Path::new("/usr/local/app/tars/tarsnode/data/TestApp.HelloServer/bin/")
    );
    assert_eq!(
        config.data_path(),
        Path::new("/usr/local/app/tars/tarsnode/data/TestApp.HelloServer/data/")
    );
    assert_eq!(config.log_path(), Path::new("/usr/local/app/tars/app_log/"));
    assert_eq!(config.log_size(), 10 << 20);
    assert_eq!(config.log_num(), 10, "not in the file: TarsCpp's default");
    assert_eq!(config.log_level(), "DEBUG");
    assert_eq!(config.log(), Some("tars.tarslog.LogObj"));
    assert_eq!(config.config(), Some("tars.tarsconfig.ConfigObj"));
    assert_eq!(config.notify(), Some("tars.tarsnotify.NotifyObj"));
    assert_eq!(config.deactivating_timeout(), Some(Duration::from_secs(3)));
    assert!(config.enable_set());
    assert_eq!(config.set_division(), Some("test.sz.1"));

    // adapters in file order: CommandLoad writes them in reverse name order
    let names: Vec<&str> = config.adapters().iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "TestApp.HelloServer.PushObjAdapter",
            "TestApp.HelloServer.HelloObjAdapter"
        ]
    );
    let hello = config.adapter_for("TestApp.HelloServer.HelloObj").unwrap();
    assert_eq!(hello.name(), "TestApp.HelloServer.HelloObjAdapter");
    assert_eq!(hello.endpoint(), "tcp -h 10.0.0.7 -p 18015 -t 60000");
    assert_eq!(
        hello.served_endpoint(),
        Some(&Endpoint::new("10.0.0.7", 18015).with_timeout(Duration::from_secs(60)))
    );
    assert_eq!(hello.protocol(), "tars");
    assert!(hello.is_tars());
    assert_eq!(
        (hello.max_conns(), hello.queue_cap(), hello.threads()),
        (200_000, 10_000, 5)
    );
    assert_eq!(hello.queue_timeout(), Duration::from_secs(60));
    assert!(hello.allow().is_empty(), "a bare `allow` allows everyone");
    let push = config
        .adapter("TestApp.HelloServer.PushObjAdapter")
        .unwrap();
    assert_eq!(push.servant(), "TestApp.HelloServer.PushObj");
    assert_eq!(push.protocol(), "not_tars");
    assert_eq!(push.allow(), ["10.0.0.8", "10.0.0.9"]);
    assert_eq!(push.queue_timeout(), Duration::from_secs(20));

    let client = config.client();
    assert_eq!(
        client.locator(),
        Some("tars.tarsregistry.QueryObj@tcp -h 10.0.0.1 -p 17890:tcp -h 10.0.0.2 -p 17890")
    );
    let locator = client.locator_address().unwrap();
    assert_eq!(
        locator.endpoints(),
        [
            Endpoint::new("10.0.0.1", 17890),
            Endpoint::new("10.0.0.2", 17890)
        ]
    );
    assert_eq!(client.sync_invoke_timeout(), Duration::from_secs(3));
    assert_eq!(client.async_invoke_timeout(), Duration::from_secs(5));
    assert_eq!(client.refresh_endpoint_interval(), Duration::from_secs(60));
    assert_eq!(client.report_interval(), Duration::from_secs(60));
    assert_eq!(client.stat(), Some("tars.tarsstat.StatObj"));
    assert_eq!(client.property(), Some("tars.tarsproperty.PropertyObj"));
    assert_eq!(client.module_name(), "TestApp.HelloServer");
    assert_eq!(
        (client.sample_rate(), client.max_sample_count()),
        (100_000, 50)
    );
    assert_eq!(client.async_threads(), 3);

    // the raw file is there for everything else
    assert_eq!(
        config.raw().get("/tars/application/server<logLevel>"),
        Some("DEBUG")
    );
}

#[test]
fn reads_the_framework_templates() {
    let tarsconfig = Config::from_file(data("tars.tarsconfig.config.conf")).unwrap();
    assert_eq!(tarsconfig.domain_names("/tars"), ["application", "db"]);
    assert_eq!(tarsconfig.get("/tars/db<dbport>"), Some("3306"));
    let server = ServerConfig::from_config(&tarsconfig).unwrap();
    assert_eq!((server.app(), server.server()), ("tars", "tarsconfig"));
    let adapter = server.adapter("tars.tarsconfig.ConfigObjAdapter").unwrap();
    assert_eq!(adapter.servant(), "tars.tarsconfig.ConfigObj");
    assert_eq!(
        adapter.served_endpoint().unwrap().host(),
        "localip.tars.com"
    );
    assert_eq!(adapter.max_conns(), 10240);
    assert!(!server.enable_set());
    assert_eq!(server.set_division(), None, "NULL when sets are off");

    let tarslog = Config::from_file(data("tars.tarslog.config.conf")).unwrap();
    assert_eq!(tarslog.get("/tars/log/format<hour>"), Some("xx"));
    let server = ServerConfig::from_config(&tarslog).unwrap();
    assert_eq!(server.log_level(), "ERROR");
    assert_eq!(server.deactivating_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(server.adapters().len(), 1);

    let tarsnode = Config::from_file(data("tars.tarsnode.config.conf")).unwrap();
    assert_eq!(
        tarsnode.domain_names("/tars/application/server"),
        ["NodeAdapter", "ServerAdapter"]
    );
    assert_eq!(
        tarsnode.get("/tars/node/container<socket>"),
        Some("/var/run/docker.sock")
    );
    let keepalive = tarsnode.domain("/tars/node/keepalive").unwrap();
    let keys: Vec<_> = keepalive.params().map(|(key, _)| key).collect();
    assert_eq!(keys, ["heartTimeout", "monitorInterval", "synStatInterval"]);
    // its locator is an install-time placeholder, which the typed view refuses by name
    let error = ServerConfig::from_config(&tarsnode).unwrap_err();
    assert!(
        matches!(&error, ConfigError::BadEndpoint { path, key, .. }
            if path == "/tars/application/client" && key == "locator"),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .starts_with("/tars/application/client<locator>: invalid endpoint `registryAddress`"));
}

#[test]
fn errors_in_a_file_name_the_file() {
    let dir = std::env::temp_dir().join(format!("tars-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("Bad.config.conf");
    std::fs::write(
        &path,
        "<tars>\n<application>\n<server>\n<A>\nendpoint=tcp -h 127.0.0.1 -p 1\nservant=x\n\
         maxconns=lots\n</A>\n</server>\n</application>\n</tars>\n",
    )
    .unwrap();
    let error = ServerConfig::from_args([
        "bin".to_string(),
        "--config".to_string(),
        path.display().to_string(),
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "config file {}: /tars/application/server/A<maxconns>: expected a number, found \"lots\"",
            path.display()
        )
    );
    std::fs::write(&path, "<tars>\n<application>\n</tars>\n").unwrap();
    let error = ServerConfig::from_args(["bin".to_string(), format!("-config={}", path.display())])
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "config file {}: line 3: </tars> does not close /tars/application, the domain open here",
            path.display()
        )
    );
    assert!(ServerConfig::from_args(["bin".to_string()])
        .unwrap()
        .is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}
