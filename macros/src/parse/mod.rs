pub mod derive;
pub mod interface;
