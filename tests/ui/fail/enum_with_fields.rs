#[derive(tars_rpc::TarsEnum)]
enum Shape {
    Circle(f64),
    Square { side: f64 },
}

fn main() {}
