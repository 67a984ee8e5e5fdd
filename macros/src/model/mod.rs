pub mod derive;
pub mod interface;
pub mod push;
