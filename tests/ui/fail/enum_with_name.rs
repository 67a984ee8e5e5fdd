#[derive(tars_rpc::TarsEnum)]
#[tars(name = "Demo.Color")]
enum Color {
    Red,
    Green,
}

fn main() {}
